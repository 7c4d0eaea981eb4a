import CohortCore
import Foundation
import Logging
import WeComKit

/// Applies callback events to the directory (spec 7). Idempotent: a replayed event reads the
/// platform again and writes only what differs, ends only relations still live and created
/// before the event, and records each notable event once.
public struct ContactEventHandler: InboxEventHandler {
    public let client: WeComClient
    public let repository: any DirectoryRepository
    public var now: @Sendable () -> Date
    public var logger: Logger

    public init(
        client: WeComClient, repository: any DirectoryRepository, now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "cohort.sync")
    ) {
        self.client = client
        self.repository = repository
        self.now = now
        self.logger = logger
    }

    public func handle(_ delivery: InboxDelivery) async throws {
        switch delivery.event {
        case .externalContact(let change):
            try await handle(change)
        case .externalTag(let change):
            try await handle(change)
        case .externalChat(let change):
            let detail = [change.kind.rawValue, change.updateDetail].compactMap { $0 }.joined(separator: ":")
            try await repository.record(ContactEvent(kind: .chatChanged, chatID: change.chatID, occurredAt: change.createTime, detail: detail), at: now())
        case .unhandled:
            break
        }
    }

    /// Adding and editing re-read the customer with every follower; an edit does nothing else
    /// (adds may carry a welcome code, deletes end one relation), so a re-read answers it.
    public func refresh(for delivery: InboxDelivery) -> InboxRefresh? {
        guard case .externalContact(let change) = delivery.event else { return nil }
        switch change.kind {
        case .addExternalContact, .addHalfExternalContact, .editExternalContact:
            return InboxRefresh(externalUserID: change.externalUserID, changeTypes: [ExternalContactChange.Kind.editExternalContact.rawValue])
        case .delExternalContact, .delFollowUser, .transferFail:
            return nil
        }
    }

    func handle(_ change: ExternalContactChange) async throws {
        let key = RelationKey(externalUserID: change.externalUserID, userID: change.userID)
        switch change.kind {
        case .addExternalContact, .addHalfExternalContact, .editExternalContact:
            try await refresh(change.externalUserID)
        case .delExternalContact:
            let reason = change.source.map { "del_external_contact: \($0)" } ?? "del_external_contact"
            try await repository.endRelation(key, reason: reason, eventTime: change.createTime, at: now())
        case .delFollowUser:
            try await repository.endRelation(key, reason: "del_follow_user", eventTime: change.createTime, at: now())
            // A customer who deleted their staff member is a lost customer: someone should know.
            let isNew = try await repository.record(
                ContactEvent(kind: .lostCustomer, externalUserID: change.externalUserID, userID: change.userID, occurredAt: change.createTime),
                at: now())
            if isNew {
                logger.notice("lost customer: a customer deleted their staff member", metadata: ["userid": "\(change.userID)"])
            }
        case .transferFail:
            try await repository.record(
                ContactEvent(
                    kind: .transferFailed, externalUserID: change.externalUserID, userID: change.userID, occurredAt: change.createTime,
                    detail: change.failReason ?? ""),
                at: now())
        }
    }

    /// Reads one customer with every follower and stores what the platform says now.
    public func refresh(_ externalUserID: String) async throws {
        let detail: ExternalContactDetailResponse
        do {
            detail = try await client.externalContact(externalUserID)
        } catch {
            // The customer is no longer anyone's (deleted since the event): nothing to store;
            // the delete event or the next full sync ends what is left.
            if error.errcode == 84061 || error.errcode == 40096 { return }
            throw error
        }
        let contact = PlatformMapping.contact(detail.external_contact)
        let relations = (detail.follow_user ?? []).map { PlatformMapping.relation($0, of: contact.externalUserID) }
        try await repository.upsert(contact, relations: relations, at: now())
    }

    func handle(_ change: ExternalTagChange) async throws {
        let request: CorpTagListRequest
        switch (change.kind, change.tagType) {
        case (.shuffle, _) where change.id.isEmpty:
            request = CorpTagListRequest()
        case (.shuffle, _), (_, "tag_group"?):
            request = CorpTagListRequest(group_id: [change.id])
        default:
            request = CorpTagListRequest(tag_id: [change.id])
        }
        let answer = PlatformMapping.catalogue(try await client.corpTagList(request))
        var deletedTags = answer.deletedTags
        var deletedGroups = answer.deletedGroups
        // A deleted entry the id query no longer lists as live is gone, flagged or not.
        if change.kind == .delete {
            if change.tagType == "tag_group" {
                if !answer.live.contains(where: { $0.id == change.id }) { deletedGroups.append(change.id) }
            } else if !answer.live.contains(where: { group in group.tags.contains { $0.id == change.id } }) {
                deletedTags.append(change.id)
            }
        }
        try await repository.upsertTagGroups(answer.live, at: now())
        try await repository.endTags(tagIDs: Array(Set(deletedTags)), groupIDs: Array(Set(deletedGroups)), at: now())
    }
}
