import CohortCore
import Foundation
import Testing

struct CallbackFieldsTests {
    @Test func canonicalFormIgnoresElementOrder() {
        let a = CallbackFields([CallbackField("B", "2"), CallbackField("A", "1")])
        let b = CallbackFields([CallbackField("A", "1"), CallbackField("B", "2")])
        #expect(a.canonicalForm == b.canonicalForm)
    }

    @Test func canonicalFormSeparatesNamesFromValues() {
        // "AB" = "" versus "A" = "B" must not collide.
        let a = CallbackFields([CallbackField("AB", "")])
        let b = CallbackFields([CallbackField("A", "B")])
        #expect(a.canonicalForm != b.canonicalForm)
    }

    @Test func fieldsRoundTripThroughJSON() throws {
        let fields = CallbackFields([
            CallbackField("A", "1"),
            CallbackField(name: "MemChangeList", value: .children([CallbackField("Item", "x"), CallbackField("Item", "y")])),
        ])
        let data = try JSONEncoder().encode(fields)
        #expect(try JSONDecoder().decode(CallbackFields.self, from: data) == fields)
    }

    @Test func emptyValuesReadAsAbsent() {
        let fields = CallbackFields([CallbackField("AgentID", "")])
        #expect(fields["AgentID"] == nil)
    }
}

struct CallbackFieldsJSONTests {
    @Test(arguments: ["plain", "quote \" backslash \\ slash /", "lines\n\r\ttab", "\u{01}\u{1F}", "客户 😀", ""])
    func handWrittenJSONDecodesToTheSameFields(text: String) throws {
        let fields = CallbackFields([
            CallbackField("Name", text),
            CallbackField(name: "List", value: .children([CallbackField("Item", text), CallbackField("Item", "b")])),
        ])
        let decoded = try JSONDecoder().decode(CallbackFields.self, from: Data(fields.json.utf8))
        #expect(decoded == fields)
    }
}
