import CohortCore
import CohortTesting
import Foundation
import Testing
import WeComKit

struct CallbackXMLTests {
    @Test func envelopeParsesInAnyOrderWithEmptyOrMissingAgentID() throws {
        let bodies = [
            "<xml><ToUserName><![CDATA[wx1]]></ToUserName><AgentID><![CDATA[]]></AgentID><Encrypt><![CDATA[abc=]]></Encrypt></xml>",
            "<xml><Encrypt><![CDATA[abc=]]></Encrypt><ToUserName>wx1</ToUserName></xml>",
            "<xml>\n  <Encrypt>\n abc=\n</Encrypt>\n  <AgentID>1000002</AgentID>\n</xml>",
        ]
        for body in bodies {
            let envelope = try CallbackXML.parseEnvelope(Array(body.utf8))
            #expect(envelope.encrypt == "abc=")
        }
        #expect(try CallbackXML.parseEnvelope(Array(bodies[0].utf8)).agentID == nil)
        #expect(try CallbackXML.parseEnvelope(Array(bodies[2].utf8)).agentID == "1000002")
    }

    @Test func envelopeWithoutEncryptOrMalformedIsRefused() {
        #expect(throws: CallbackXMLError.missingEncrypt) { try CallbackXML.parseEnvelope(Array("<xml><A>1</A></xml>".utf8)) }
        #expect(throws: CallbackXMLError.self) { try CallbackXML.parseEnvelope(Array("<xml><Encrypt>abc</xml>".utf8)) }
        #expect(throws: CallbackXMLError.self) { try CallbackXML.parseEnvelope(Array("not xml".utf8)) }
        #expect(throws: CallbackXMLError.self) { try CallbackXML.parseEnvelope([]) }
    }

    @Test func doctypeAndEntityDeclarationsAreRefused() {
        let bomb = """
            <?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><Encrypt>&lol2;</Encrypt></xml>
            """
        #expect(throws: CallbackXMLError.forbiddenMarkup) { try CallbackXML.parseEnvelope(Array(bomb.utf8)) }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "<a>", count: 500) + String(repeating: "</a>", count: 500)
        #expect(throws: CallbackXMLError.tooDeep) { try CallbackXML.parseMessage(deep) }
    }

    @Test func cdataAndPlainTextGiveTheSameFieldsAndKey() throws {
        let cdata = try CallbackXML.parseMessage(Vectors.addExternalContactXML)
        let plain = try CallbackXML.parseMessage(
            "<xml><WelcomeCode>WELCOME_CODE_0001</WelcomeCode><State>qr_spring_2024</State><ExternalUserID>wmAbCdEfGhIjKlMnOpQrStUvWxYz012345</ExternalUserID><UserID>zhangsan</UserID><ChangeType>add_external_contact</ChangeType><Event>change_external_contact</Event><MsgType>event</MsgType><CreateTime><![CDATA[1700000000]]></CreateTime><FromUserName>sys</FromUserName><ToUserName>wx5823bf96d3bd56c7</ToUserName></xml>")
        #expect(cdata.canonicalForm == plain.canonicalForm)
        #expect(CallbackReceiver.dedupKey(cdata) == CallbackReceiver.dedupKey(plain))
        #expect(CallbackEvent(cdata) == CallbackEvent(plain))
    }

    @Test func distinctEventsInTheSameSecondHaveDistinctKeys() throws {
        let first = try CallbackXML.parseMessage(CallbackFactory.contactEventXML(externalUserID: "wmCustomerA"))
        let second = try CallbackXML.parseMessage(CallbackFactory.contactEventXML(externalUserID: "wmCustomerB"))
        let third = try CallbackXML.parseMessage(CallbackFactory.contactEventXML(changeType: "edit_external_contact", externalUserID: "wmCustomerA"))
        let keys = Set([first, second, third].map(CallbackReceiver.dedupKey))
        #expect(keys.count == 3)
    }

    @Test func listOrderIsPartOfTheKeyAndEmptyElementsAreKept() throws {
        let base = "<xml><Event>change_external_chat</Event><MsgType>event</MsgType><ChangeType>update</ChangeType><ChatId>wr1</ChatId>"
        let ab = try CallbackXML.parseMessage(base + "<MemChangeList><Item>a</Item><Item>b</Item></MemChangeList></xml>")
        let ba = try CallbackXML.parseMessage(base + "<MemChangeList><Item>b</Item><Item>a</Item></MemChangeList></xml>")
        #expect(ab.items("MemChangeList") == ["a", "b"])
        #expect(CallbackReceiver.dedupKey(ab) != CallbackReceiver.dedupKey(ba))
    }

    /// Stored events carry their key: a retry arriving after an upgrade must compute the same
    /// one, so the canonical form may never change. The value is from the first release.
    @Test func theDedupKeyOfAnEventNeverChangesAcrossReleases() {
        let fields = CallbackFields([
            CallbackField("ToUserName", "ww1"), CallbackField("FromUserName", "sys"), CallbackField("CreateTime", "1700000000"),
            CallbackField("MsgType", "event"), CallbackField("Event", "change_external_chat"), CallbackField("ChangeType", "update"),
            CallbackField("ChatId", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"), CallbackField("UpdateDetail", "add_member"),
            CallbackField(name: "MemChangeList", value: .children([CallbackField("Item", "wmA"), CallbackField("Item", "张三")])),
            CallbackField("Note", "b"), CallbackField("Note", "a"),
        ])
        #expect(CallbackReceiver.dedupKey(fields) == "269ade2dbbf371d68d7317e609a7fb5cf2386c962b7e17b3a52ff1a5d735743f")
    }

    @Test func renderEscapesCDATATerminatorsAndRoundTrips() throws {
        let fields = CallbackFields([CallbackField("State", "a]]>b<c>&"), CallbackField("CreateTime", "17")])
        let xml = CallbackXML.render(fields)
        #expect(try CallbackXML.parseMessage(xml) == fields)
    }

    @Test func multibyteTextSurvivesParsing() throws {
        let fields = try CallbackXML.parseMessage("<xml><State><![CDATA[春节活动-二维码]]></State><Name>李四</Name></xml>")
        #expect(fields["State"] == "春节活动-二维码")
        #expect(fields["Name"] == "李四")
    }
}

/// The strict scanner's accepted subset and its refusals.
struct CallbackXMLScannerTests {
    @Test func prologCommentsAttributesEntitiesAndCharacterReferencesAreRead() throws {
        let xml = """
            \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
            <!-- sent by the platform -->
            <xml kind='event'><A>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;</A><B>&#20013;&#x6587;</B><C/><!-- x --><D><![CDATA[<not>&markup;]]></D></xml>
            <!-- trailing -->
            """
        let fields = try CallbackXML.parseMessage(xml)
        #expect(fields["A"] == "a <b> & \"c\" 'd'")
        #expect(fields["B"] == "中文")
        #expect(fields.fields.first { $0.name == "C" }?.value == .text(""))
        #expect(fields["D"] == "<not>&markup;")
    }

    @Test(arguments: [
        "<xml><A>1</B></xml>",
        "<xml><A>1</A>",
        "<xml><A>&unknown;</A></xml>",
        "<xml><A>&#0;</A></xml>",
        "<xml><A><![CDATA[open</A></xml>",
        "<xml></xml><xml></xml>",
        "<xml></xml>trailing",
        "text<xml></xml>",
        "<xml><A b=c>1</A></xml>",
        "<xml><1A>1</1A></xml>",
        "<xml><A>1</A></xml",
        "",
    ])
    func malformedDocumentsAreRefused(xml: String) {
        #expect(throws: CallbackXMLError.self) { try CallbackXML.parseMessage(xml) }
    }

    @Test func invalidUTF8TextIsRefused() {
        var bytes = Array("<xml><Encrypt>".utf8)
        bytes += [0xC3, 0x28]
        bytes += Array("</Encrypt></xml>".utf8)
        #expect(throws: CallbackXMLError.self) { try CallbackXML.parseEnvelope(bytes) }
    }
}

struct CallbackQueryTests {
    @Test func percentEscapesAreDecodedOnceAndPlusIsKept() {
        let query = CallbackQuery(rawQuery: "msg_signature=ab&timestamp=1&nonce=2&echostr=a%2Bb%2Fc%3D+d%252B")
        #expect(query.echostr == "a+b/c=+d%2B")
        #expect(query.msgSignature == "ab")
    }

    @Test func percentEncodedParameterNamesAreRecognised() {
        let query = CallbackQuery(rawQuery: "msg%5Fsignature=ab&time%73tamp=1&%6Eonce=2&echo%73tr=e")
        #expect(query.msgSignature == "ab")
        #expect(query.timestamp == "1")
        #expect(query.nonce == "2")
        #expect(query.echostr == "e")
    }

    @Test func malformedEscapesReadAsMissing() {
        #expect(CallbackQuery(rawQuery: "echostr=%G1").echostr == nil)
        #expect(CallbackQuery(rawQuery: "echostr=abc%2").echostr == nil)
        #expect(CallbackQuery(rawQuery: "echostr=%FF%FE").echostr == nil)
    }

    @Test func firstOccurrenceWinsAndEmptyValuesAreKept() {
        let query = CallbackQuery(rawQuery: "nonce=1&nonce=2&timestamp=")
        #expect(query.nonce == "1")
        #expect(query.timestamp == "")
    }
}
