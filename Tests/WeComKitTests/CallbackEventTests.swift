import CohortCore
import CohortTesting
import Foundation
import Testing
import WeComKit

/// Every event of platform spec section 7 parses into its typed value.
struct CallbackEventTests {
    static let header =
        "<ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"

    static func event(_ body: String) throws -> CallbackEvent {
        CallbackEvent(try CallbackXML.parseMessage("<xml>" + header + body + "</xml>"))
    }

    @Test(arguments: ExternalContactChange.Kind.allCases)
    func everyContactChangeTypeIsTyped(kind: ExternalContactChange.Kind) throws {
        let event = try Self.event(
            "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[\(kind.rawValue)]]></ChangeType><UserID>zhangsan</UserID><ExternalUserID>wmX</ExternalUserID><State>booth_07</State><WelcomeCode>W1</WelcomeCode><Source>DELETE_BY_TRANSFER</Source><FailReason>customer_refused</FailReason>")
        guard case .externalContact(let change) = event else {
            Issue.record("not typed: \(event)")
            return
        }
        #expect(change.kind == kind)
        #expect(change.userID == "zhangsan")
        #expect(change.externalUserID == "wmX")
        #expect(change.createTime == 1_700_000_000)
        #expect(change.state == "booth_07")
        #expect(change.welcomeCode == "W1")
        #expect(change.source == "DELETE_BY_TRANSFER")
        #expect(change.failReason == "customer_refused")
    }

    @Test func addWithoutWelcomeCodeOrStateIsStillTyped() throws {
        let event = try Self.event("<Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType><UserID>u</UserID><ExternalUserID>wmX</ExternalUserID>")
        guard case .externalContact(let change) = event else {
            Issue.record("not typed")
            return
        }
        #expect(change.welcomeCode == nil)
        #expect(change.state == nil)
    }

    @Test(arguments: ExternalTagChange.Kind.allCases)
    func everyTagChangeTypeIsTyped(kind: ExternalTagChange.Kind) throws {
        let event = try Self.event(
            "<Event>change_external_tag</Event><Id>etTag1</Id><TagType>tag</TagType><ChangeType>\(kind.rawValue)</ChangeType><StrategyId>1</StrategyId>")
        #expect(event == .externalTag(ExternalTagChange(try CallbackXML.parseMessage("<xml>" + Self.header + "<ChangeType>\(kind.rawValue)</ChangeType><Id>etTag1</Id><TagType>tag</TagType><StrategyId>1</StrategyId></xml>"))!))
        guard case .externalTag(let change) = event else { return }
        #expect(change.id == "etTag1")
        #expect(change.tagType == "tag")
        #expect(change.strategyID == "1")
    }

    @Test func shuffleOfAllGroupsHasAnEmptyID() throws {
        let event = try Self.event("<Event>change_external_tag</Event><Id><![CDATA[]]></Id><ChangeType>shuffle</ChangeType>")
        guard case .externalTag(let change) = event else {
            Issue.record("not typed: \(event)")
            return
        }
        #expect(change.kind == .shuffle)
        #expect(change.id == "")
        #expect(change.tagType == nil)
    }

    @Test(arguments: ExternalChatChange.Kind.allCases)
    func everyChatChangeTypeIsTyped(kind: ExternalChatChange.Kind) throws {
        let event = try Self.event(
            "<Event>change_external_chat</Event><ChatId>wrChat1</ChatId><ChangeType>\(kind.rawValue)</ChangeType><UpdateDetail>add_member</UpdateDetail><JoinScene>3</JoinScene><QuitScene>0</QuitScene><MemChangeCnt>2</MemChangeCnt><MemChangeList><Item>wmA</Item><Item>zhangsan</Item></MemChangeList><LastMemVer>v1</LastMemVer><CurMemVer>v2</CurMemVer>")
        guard case .externalChat(let change) = event else {
            Issue.record("not typed: \(event)")
            return
        }
        #expect(change.kind == kind)
        #expect(change.chatID == "wrChat1")
        #expect(change.updateDetail == "add_member")
        #expect(change.joinScene == 3)
        #expect(change.quitScene == 0)
        #expect(change.memberChangeCount == 2)
        #expect(change.memberChangeList == ["wmA", "zhangsan"])
        #expect(change.currentMemberVersion == "v2")
    }

    @Test func unknownEventsAndChangeTypesAreUnhandledNotDropped() throws {
        let unknownChange = try Self.event("<Event>change_external_contact</Event><ChangeType>msg_audit_approved</ChangeType><UserID>u</UserID>")
        #expect(!unknownChange.isHandled)
        let unknownEvent = try Self.event("<Event>change_contact</Event><ChangeType>create_user</ChangeType>")
        #expect(unknownEvent == .unhandled(reason: "unknown Event change_contact"))
        let text = CallbackEvent(try CallbackXML.parseMessage("<xml><MsgType>text</MsgType><Content>hi</Content></xml>"))
        #expect(text == .unhandled(reason: "MsgType text is not an event"))
        let missingUser = try Self.event("<Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType>")
        #expect(!missingUser.isHandled)
    }
}
