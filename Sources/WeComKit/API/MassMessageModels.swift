// Mass messages (platform spec section 4): a task per sender that the staff member confirms.

/// `text` of a mass or welcome message: at most 4,000 bytes.
public struct MessageText: Codable, Sendable, Hashable {
    public var content: String

    public init(content: String) {
        self.content = content
    }
}

/// One attachment; `msgtype` names the object that is present.
public struct MessageAttachment: Codable, Sendable, Hashable {
    public struct Image: Codable, Sendable, Hashable {
        public var media_id: String?
        public var pic_url: String?
    }

    public struct Link: Codable, Sendable, Hashable {
        public var title: String
        public var picurl: String?
        public var desc: String?
        public var url: String
    }

    public struct MiniProgram: Codable, Sendable, Hashable {
        public var title: String
        public var pic_media_id: String
        public var appid: String
        public var page: String
    }

    public struct Media: Codable, Sendable, Hashable {
        public var media_id: String
    }

    public var msgtype: String
    public var image: Image?
    public var link: Link?
    public var miniprogram: MiniProgram?
    public var video: Media?
    public var file: Media?
}

/// `externalcontact/add_msg_template` request for customers (`chat_type` single).
public struct AddMessageTemplateRequest: Encodable, Sendable, Hashable {
    public var chat_type: String
    public var external_userid: [String]
    public var sender: String
    public var allow_select: Bool?
    public var text: MessageText?
    public var attachments: [MessageAttachment]?

    public init(external_userid: [String], sender: String, text: MessageText?, attachments: [MessageAttachment]? = nil) {
        self.chat_type = "single"
        self.external_userid = external_userid
        self.sender = sender
        self.allow_select = nil
        self.text = text
        self.attachments = attachments
    }
}

public struct AddMessageTemplateResponse: Decodable, Sendable, Hashable {
    /// Ids that are invalid or cannot be sent to.
    public var fail_list: [String]?
    public var msgid: String?
}

/// `externalcontact/get_groupmsg_list_v2` request: `start_time`…`end_time` spans at most a month.
public struct GroupMessageListRequest: Encodable, Sendable, Hashable {
    public var chat_type: String
    public var start_time: Int64
    public var end_time: Int64
    public var creator: String?
    /// 0 corp-created, 1 member-created, 2 all.
    public var filter_type: Int?
    public var limit: Int?
    public var cursor: String?

    public init(start_time: Int64, end_time: Int64, filter_type: Int? = 0, limit: Int? = 100, cursor: String? = nil) {
        self.chat_type = "single"
        self.start_time = start_time
        self.end_time = end_time
        self.creator = nil
        self.filter_type = filter_type
        self.limit = limit
        self.cursor = cursor
    }
}

public struct GroupMessageListResponse: Decodable, Sendable, Hashable {
    public struct Message: Decodable, Sendable, Hashable {
        public var msgid: String
        /// Absent for API-created tasks.
        public var creator: String?
        public var create_time: Int64?
        /// 0 corp, 1 member.
        public var create_type: Int?
        public var text: MessageText?
    }

    public var group_msg_list: [Message]?
    public var next_cursor: String?
}

/// `get_groupmsg_task` and `get_groupmsg_send_result` paging requests.
public struct GroupMessageTaskRequest: Encodable, Sendable, Hashable {
    public var msgid: String
    public var userid: String?
    public var limit: Int?
    public var cursor: String?

    public init(msgid: String, userid: String? = nil, limit: Int? = 1000, cursor: String? = nil) {
        self.msgid = msgid
        self.userid = userid
        self.limit = limit
        self.cursor = cursor
    }
}

public struct GroupMessageTaskResponse: Decodable, Sendable, Hashable {
    public struct Task: Decodable, Sendable, Hashable {
        public var userid: String
        /// 0 not sent, 2 sent.
        public var status: Int
        public var send_time: Int64?
    }

    public var task_list: [Task]?
    public var next_cursor: String?
}

public struct GroupMessageSendResultResponse: Decodable, Sendable, Hashable {
    public struct Recipient: Decodable, Sendable, Hashable {
        public var external_userid: String?
        public var chat_id: String?
        public var userid: String?
        /// 0 not sent, 1 sent, 2 not a friend, 3 quota reached.
        public var status: Int
        public var send_time: Int64?
    }

    public var send_list: [Recipient]?
    public var next_cursor: String?
}

/// `remind_groupmsg_send` and `cancel_groupmsg_send`.
public struct MessageIDRequest: Encodable, Sendable, Hashable {
    public var msgid: String

    public init(msgid: String) {
        self.msgid = msgid
    }
}

/// `externalcontact/send_welcome_msg`: the code lives 20 s and works once.
public struct WelcomeMessageRequest: Encodable, Sendable, Hashable {
    public var welcome_code: String
    public var text: MessageText?
    public var attachments: [MessageAttachment]?

    public init(welcome_code: String, text: MessageText?, attachments: [MessageAttachment]? = nil) {
        self.welcome_code = welcome_code
        self.text = text
        self.attachments = attachments
    }
}
