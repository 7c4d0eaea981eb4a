import Testing

@testable import WeComKit

struct UTF8TextTests {
    @Test func validTextDecodesWhetherOrNotItHasAnEFByte() {
        #expect(utf8Text(Array("msg_signature".utf8)) == "msg_signature")
        #expect(utf8Text(Array("张三，你好".utf8)) == "张三，你好")  // U+FF0C is EF BC 8C
        #expect(utf8Text(Array("\u{FFFD}".utf8)) == "\u{FFFD}")  // a real replacement character is text
        #expect(utf8Text([UInt8]()) == "")
    }

    @Test func invalidUTF8IsRefusedEvenWhereRepairWouldKeepTheLength() {
        #expect(utf8Text([0x61, 0xFF, 0x62]) == nil)
        #expect(utf8Text([0xF0, 0x9F, 0x98, 0x61]) == nil)  // truncated 4-byte sequence: repair is 3 bytes too
        #expect(utf8Text([0xED, 0xA0, 0x80]) == nil)  // a surrogate
        #expect(utf8Text(Array("ok".utf8)[...]) == "ok")
    }

    @Test func queryValuesWithAndWithoutEscapesDecodeOnce() {
        let query = CallbackQuery(rawQuery: "msg_signature=abc&timestamp=17&nonce=a%2Bb%252B&echostr=x&msg_signature=second")
        #expect(query.msgSignature == "abc")
        #expect(query.timestamp == "17")
        #expect(query.nonce == "a+b%2B")
        #expect(query.echostr == "x")
        let encodedName = CallbackQuery(rawQuery: "%6Eonce=n1&nonce=n2&timestamp&msg_signature=%ZZ&msg_signature=s")
        #expect(encodedName.nonce == "n1")
        #expect(encodedName.timestamp == "")
        #expect(encodedName.msgSignature == "s")
    }
}
