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
    public init(
        msgtype: String, image: Image? = nil, link: Link? = nil, miniprogram: MiniProgram? = nil, video: Media? = nil,
        file: Media? = nil
    ) {
        self.msgtype = msgtype
        self.image = image
        self.link = link
        self.miniprogram = miniprogram
        self.video = video
        self.file = file
    }

    public struct Image: Codable, Sendable, Hashable {
        public init(media_id: String?, pic_url: String? = nil) {
            self.media_id = media_id
            self.pic_url = pic_url
        }

        public var media_id: String?
        public var pic_url: String?
    }

    public struct Link: Codable, Sendable, Hashable {

        public init(title: String, picurl: String? = nil, desc: String? = nil, url: String) {

            self.title = title

            self.picurl = picurl

            self.desc = desc

            self.url = url

        }

        public var title: String
        public var picurl: String?
        public var desc: String?
        public var url: String
    }

    public struct MiniProgram: Codable, Sendable, Hashable {

        public init(title: String, pic_media_id: String, appid: String, page: String) {

            self.title = title

            self.pic_media_id = pic_media_id

            self.appid = appid

            self.page = page

        }

        public var title: String
        public var pic_media_id: String
        public var appid: String
        public var page: String
    }

    public struct Media: Codable, Sendable, Hashable {

        public init(media_id: String) { self.media_id = media_id }

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
public struct AddMessageTemplateRequest: Codable, Sendable, Hashable {
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

public struct AddMessageTemplateResponse: Codable, Sendable, Hashable {

    public init(fail_list: [String]?, msgid: String?) {

        self.fail_list = fail_list

        self.msgid = msgid

    }

    /// Ids that are invalid or cannot be sent to.
    public var fail_list: [String]?
    public var msgid: String?
}

/// `externalcontact/get_groupmsg_list_v2` request: `start_time`…`end_time` spans at most a month.
public struct GroupMessageListRequest: Codable, Sendable, Hashable {
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

public struct GroupMessageListResponse: Codable, Sendable, Hashable {

    public init(group_msg_list: [Message]?, next_cursor: String?) {

        self.group_msg_list = group_msg_list

        self.next_cursor = next_cursor

    }

    public struct Message: Codable, Sendable, Hashable {
        public init(msgid: String, creator: String?, create_time: Int64?, create_type: Int?, text: MessageText?) {
            self.msgid = msgid
            self.creator = creator
            self.create_time = create_time
            self.create_type = create_type
            self.text = text
        }

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
public struct GroupMessageTaskRequest: Codable, Sendable, Hashable {
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

public struct GroupMessageTaskResponse: Codable, Sendable, Hashable {

    public init(task_list: [Task]?, next_cursor: String?) {

        self.task_list = task_list

        self.next_cursor = next_cursor

    }

    public struct Task: Codable, Sendable, Hashable {
        public init(userid: String, status: Int, send_time: Int64?) {
            self.userid = userid
            self.status = status
            self.send_time = send_time
        }

        public var userid: String
        /// 0 not sent, 2 sent.
        public var status: Int
        public var send_time: Int64?
    }

    public var task_list: [Task]?
    public var next_cursor: String?
}

public struct GroupMessageSendResultResponse: Codable, Sendable, Hashable {

    public init(send_list: [Recipient]?, next_cursor: String?) {

        self.send_list = send_list

        self.next_cursor = next_cursor

    }

    public struct Recipient: Codable, Sendable, Hashable {
        public init(external_userid: String?, chat_id: String? = nil, userid: String?, status: Int, send_time: Int64?) {
            self.external_userid = external_userid
            self.chat_id = chat_id
            self.userid = userid
            self.status = status
            self.send_time = send_time
        }

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
public struct MessageIDRequest: Codable, Sendable, Hashable {
    public var msgid: String

    public init(msgid: String) {
        self.msgid = msgid
    }
}

/// `externalcontact/send_welcome_msg`: the code lives 20 s and works once.
public struct WelcomeMessageRequest: Codable, Sendable, Hashable {
    public var welcome_code: String
    public var text: MessageText?
    public var attachments: [MessageAttachment]?

    public init(welcome_code: String, text: MessageText?, attachments: [MessageAttachment]? = nil) {
        self.welcome_code = welcome_code
        self.text = text
        self.attachments = attachments
    }
}
