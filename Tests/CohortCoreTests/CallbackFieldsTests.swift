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
