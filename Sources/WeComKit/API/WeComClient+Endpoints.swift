/// Typed calls to the customer-contact endpoints, with the paging and quirks of the spec.
extension WeComClient {
    /// A staff member's record (for the display name).
    public func user(_ userid: String) async throws(PlatformError) -> UserGetResponse {
        try await get("user/get", query: [("userid", userid)], as: UserGetResponse.self)
    }

    /// Members with customer contact enabled, in the app's visible range.
    public func followUserList() async throws(PlatformError) -> [String] {
        try await get("externalcontact/get_follow_user_list", as: FollowUserListResponse.self).follow_user ?? []
    }

    /// The customer ids of one member. A member without customers is answered 84061, which
    /// reads as an empty list (spec 2.2, pitfall 8).
    public func externalContacts(of userid: String) async throws(PlatformError) -> [String] {
        do {
            return try await get("externalcontact/list", query: [("userid", userid)], as: ExternalContactListResponse.self)
                .external_userid ?? []
        } catch {
            if error.errcode == 84061 { return [] }
            throw error
        }
    }

    /// One customer with every follow user, paging past 500 follow users.
    public func externalContact(_ externalUserID: String) async throws(PlatformError) -> ExternalContactDetailResponse {
        var query = [("external_userid", externalUserID)]
        var result = try await get("externalcontact/get", query: query, as: ExternalContactDetailResponse.self)
        var seen: Set<String> = []
        while let cursor = result.next_cursor, !cursor.isEmpty, seen.insert(cursor).inserted {
            query = [("external_userid", externalUserID), ("cursor", cursor)]
            let page = try await get("externalcontact/get", query: query, as: ExternalContactDetailResponse.self)
            result.follow_user = (result.follow_user ?? []) + (page.follow_user ?? [])
            result.next_cursor = page.next_cursor
        }
        return result
    }

    /// One page of `batch/get_by_user` for at most 100 members.
    public func batchGetByUser(_ request: BatchGetByUserRequest) async throws(PlatformError) -> BatchGetByUserResponse {
        guard (1...100).contains(request.userid_list.count) else {
            throw PlatformError(
                .invalidRequest("userid_list has \(request.userid_list.count) ids; 1 to 100 are allowed"),
                endpoint: "externalcontact/batch/get_by_user")
        }
        return try await post("externalcontact/batch/get_by_user", body: request, as: BatchGetByUserResponse.self)
    }

    public func corpTagList(_ request: CorpTagListRequest = CorpTagListRequest()) async throws(PlatformError) -> [CorpTagGroup] {
        try await post("externalcontact/get_corp_tag_list", body: request, as: CorpTagListResponse.self).tag_group ?? []
    }

    public func addCorpTag(_ request: AddCorpTagRequest) async throws(PlatformError) -> CorpTagGroup {
        try await post("externalcontact/add_corp_tag", body: request, as: AddCorpTagResponse.self).tag_group
    }

    public func editCorpTag(_ request: EditCorpTagRequest) async throws(PlatformError) {
        _ = try await post("externalcontact/edit_corp_tag", body: request, as: EmptyResponse.self)
    }

    public func deleteCorpTag(_ request: DeleteCorpTagRequest) async throws(PlatformError) {
        _ = try await post("externalcontact/del_corp_tag", body: request, as: EmptyResponse.self)
    }

    public func markTag(_ request: MarkTagRequest) async throws(PlatformError) {
        _ = try await post("externalcontact/mark_tag", body: request, as: EmptyResponse.self)
    }

    public func addMessageTemplate(_ request: AddMessageTemplateRequest) async throws(PlatformError) -> AddMessageTemplateResponse {
        // Never retried blind: a lost answer may hide a created task (see CampaignDispatcher).
        try await post("externalcontact/add_msg_template", body: request, as: AddMessageTemplateResponse.self, uncertainIsFinal: true)
    }

    public func groupMessageList(_ request: GroupMessageListRequest) async throws(PlatformError) -> GroupMessageListResponse {
        try await post("externalcontact/get_groupmsg_list_v2", body: request, as: GroupMessageListResponse.self)
    }

    public func groupMessageTask(_ request: GroupMessageTaskRequest) async throws(PlatformError) -> GroupMessageTaskResponse {
        try await post("externalcontact/get_groupmsg_task", body: request, as: GroupMessageTaskResponse.self)
    }

    public func groupMessageSendResult(_ request: GroupMessageTaskRequest) async throws(PlatformError) -> GroupMessageSendResultResponse {
        try await post("externalcontact/get_groupmsg_send_result", body: request, as: GroupMessageSendResultResponse.self)
    }

    public func remindGroupMessage(_ msgid: String) async throws(PlatformError) {
        _ = try await post("externalcontact/remind_groupmsg_send", body: MessageIDRequest(msgid: msgid), as: EmptyResponse.self)
    }

    public func cancelGroupMessage(_ msgid: String) async throws(PlatformError) {
        _ = try await post("externalcontact/cancel_groupmsg_send", body: MessageIDRequest(msgid: msgid), as: EmptyResponse.self)
    }

    public func sendWelcomeMessage(_ request: WelcomeMessageRequest) async throws(PlatformError) {
        _ = try await post("externalcontact/send_welcome_msg", body: request, as: EmptyResponse.self)
    }

    /// `message/send`: a text message from an application to staff members (docs/wecom-api-additions.md).
    /// Returns the userids the platform did not deliver to (`invaliduser`).
    @discardableResult
    public func sendApplicationMessage(to userIDs: [String], agentID: Int, text: String) async throws(PlatformError) -> [String] {
        let answer = try await post(
            "message/send",
            body: ApplicationMessageRequest(touser: userIDs.joined(separator: "|"), msgtype: "text", agentid: agentID, text: MessageText(content: text)),
            as: ApplicationMessageResponse.self)
        return (answer.invaliduser ?? "").split(separator: "|").map(String.init)
    }
}

/// `message/send` with a text body.
public struct ApplicationMessageRequest: Codable, Sendable, Hashable {
    public var touser: String
    public var msgtype: String
    public var agentid: Int
    public var text: MessageText
}

public struct ApplicationMessageResponse: Decodable, Sendable, Hashable {
    public var invaliduser: String?
}
