import CohortCore
import Foundation
import Metrics
import Logging
import WeComKit

/// What one pass over the platform write queue did.
public struct TagWriteReport: Sendable, Hashable, Codable {
    public var done = 0
    public var retried = 0
    public var failed = 0
    /// Tags created with add_corp_tag because rules need them.
    public var createdTags: [String] = []

    public init() {}
}

/// Drains queued mark_tag operations to the platform: resolves tag names to ids (creating
/// the tags rules need with add_corp_tag first), sends one mark_tag per relation with every add
/// and remove, and records the result. The client handles rate limits and transient retries
/// within a call; an operation that still fails is retried later with backoff, or failed for
/// good when the platform refuses it.
public struct TagWriter: Sendable {
    public let client: WeComClient
    public let directory: any DirectoryRepository
    public let ops: any PlatformOpRepository
    /// Groups Cohort must never touch (staff-owned), by name.
    public var staffGroups: Set<String>
    public var maxAttempts = 8
    public var now: @Sendable () -> Date
    public var logger: Logger

    public init(
        client: WeComClient, directory: any DirectoryRepository, ops: any PlatformOpRepository, staffGroups: Set<String>,
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "cohort.tags")
    ) {
        self.client = client
        self.directory = directory
        self.ops = ops
        self.staffGroups = staffGroups
        self.now = now
        self.logger = logger
    }

    /// Sends due operations until none is left (or `limit` were tried).
    public func drain(limit: Int = .max, progress: (@Sendable (Int) -> Void)? = nil) async throws -> TagWriteReport {
        var report = TagWriteReport()
        var catalogue = try await directory.catalogue()
        var tried = 0
        while tried < limit {
            let batch = try await ops.due(at: now(), limit: min(500, limit - tried))
            if batch.isEmpty { break }
            for op in batch {
                tried += 1
                try await send(op, catalogue: &catalogue, report: &report)
                progress?(tried)
            }
        }
        Counter(label: "cohort_tag_writes_total", dimensions: [("outcome", "done")]).increment(by: Int64(report.done))
        Counter(label: "cohort_tag_writes_total", dimensions: [("outcome", "retry")]).increment(by: Int64(report.retried))
        Counter(label: "cohort_tag_writes_total", dimensions: [("outcome", "failed")]).increment(by: Int64(report.failed))
        return report
    }

    private func send(_ op: PlatformOp, catalogue: inout [TagGroup], report: inout TagWriteReport) async throws {
        switch await write(op.payload, catalogue: &catalogue, report: &report) {
        case .success(let (addIDs, removeIDs)):
            try await ops.complete(op, addedTagIDs: addIDs, removedTagIDs: removeIDs, at: now())
            report.done += 1
        case .failure(let error):
            let permanent: Bool
            switch error.kind {
            case .api(let code, _): permanent = ![-1, 45009, 45033, 6000].contains(code) && !PlatformError.tokenErrors.contains(code)
            case .http(let status): permanent = status < 500
            case .transport: permanent = false
            case .malformedResponse, .invalidRequest: permanent = true
            }
            if permanent || op.attempts + 1 >= maxAttempts {
                report.failed += 1
                logger.warning("tag write failed for good", metadata: ["op": "\(op.id)", "error": "\(error)"])
                try await ops.fail(op, error: "\(error)", retryAt: nil, at: now())
            } else {
                report.retried += 1
                // 1, 2, 4 … 64 minutes: the client already retried within the call.
                let delay = 60.0 * Double(1 << min(op.attempts, 6))
                try await ops.fail(op, error: "\(error)", retryAt: now().addingTimeInterval(delay), at: now())
            }
        }
    }

    /// The platform calls of one operation; the tag ids added and removed, or why not.
    private func write(_ payload: MarkTagPayload, catalogue: inout [TagGroup], report: inout TagWriteReport) async
        -> Result<([String], [String]), PlatformError>
    {
        do throws(PlatformError) {
            // Staff-owned groups are never written, whatever the queue says.
            let add = payload.add.filter { !staffGroups.contains(Self.split($0).group) }
            let remove = payload.remove.filter { !staffGroups.contains(Self.split($0).group) }
            var addIDs: [String] = []
            for name in add {
                if let id = Self.id(of: name, in: catalogue) {
                    addIDs.append(id)
                } else {
                    addIDs.append(try await create(name, catalogue: &catalogue, report: &report))
                }
            }
            // A tag that no longer exists is not on the relation either: nothing to remove.
            let removeIDs = remove.compactMap { Self.id(of: $0, in: catalogue) }
            if !addIDs.isEmpty || !removeIDs.isEmpty {
                try await client.markTag(
                    MarkTagRequest(
                        userid: payload.userID, external_userid: payload.externalUserID,
                        add_tag: addIDs.isEmpty ? nil : addIDs, remove_tag: removeIDs.isEmpty ? nil : removeIDs))
            }
            return .success((addIDs, removeIDs))
        } catch {
            return .failure(error)
        }
    }

    /// Creates a missing rule tag (and its group if needed), and learns it into the catalogue.
    private func create(_ name: String, catalogue: inout [TagGroup], report: inout TagWriteReport) async throws(PlatformError) -> String {
        let (groupName, tagName) = Self.split(name)
        let existing = catalogue.first { $0.name == groupName }
        let created = try await client.addCorpTag(
            AddCorpTagRequest(
                group_id: existing?.id, group_name: existing == nil ? groupName : nil, tag: [.init(name: tagName)]))
        let group = PlatformMapping.catalogue([created]).live
        guard let tag = group.first?.tags.first(where: { $0.name == tagName }) else {
            throw PlatformError(.malformedResponse("add_corp_tag did not return tag \(tagName)"), endpoint: "externalcontact/add_corp_tag")
        }
        _ = try? await directory.upsertTagGroups(group, at: now())
        if let index = catalogue.firstIndex(where: { $0.id == tag.groupID }) {
            catalogue[index].tags.append(tag)
        } else if let first = group.first {
            catalogue.append(first)
        }
        report.createdTags.append(name)
        logger.info("created rule tag", metadata: ["tag": "\(name)"])
        return tag.id
    }

    static func split(_ name: String) -> (group: String, tag: String) {
        guard let slash = name.firstIndex(of: "/") else { return ("", name) }
        return (String(name[..<slash]), String(name[name.index(after: slash)...]))
    }

    static func id(of name: String, in catalogue: [TagGroup]) -> String? {
        let (groupName, tagName) = split(name)
        for group in catalogue where group.name == groupName {
            if let tag = group.tags.first(where: { $0.name == tagName }) { return tag.id }
        }
        return nil
    }
}
