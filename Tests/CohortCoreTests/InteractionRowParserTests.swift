import CohortCore
import Foundation
import Testing

@Suite struct InteractionRowParserTests {
    let parser = InteractionRowParser(
        knownKinds: ["order", "feedback"], timeZone: TimeZone(identifier: "Asia/Shanghai")!, defaultSource: "file")

    @Test func amountsBecomeExactCents() {
        #expect(InteractionRowParser.parseCents("128.5") == 12_850)
        #expect(InteractionRowParser.parseCents("0.07") == 7)
        #expect(InteractionRowParser.parseCents("-3") == -300)
        #expect(InteractionRowParser.parseCents("1.234") == nil)
        #expect(InteractionRowParser.parseCents("12a") == nil)
        #expect(InteractionRowParser.parseCents(".5") == nil)
    }

    @Test func localDatesAreReadInTheBusinessTimeZoneAndOffsetsAreKept() {
        let zone = TimeZone(identifier: "Asia/Shanghai")!
        #expect(InteractionRowParser.parseTime("2026-11-23", timeZone: zone) == 1_795_363_200)
        #expect(InteractionRowParser.parseTime("2026-11-23 08:00:00", timeZone: zone) == 1_795_392_000)
        #expect(InteractionRowParser.parseTime("2026-11-23T00:00:00Z", timeZone: zone) == 1_795_392_000)
        #expect(InteractionRowParser.parseTime("1795392000", timeZone: zone) == 1_795_392_000)
        #expect(InteractionRowParser.parseTime("2026-02-30", timeZone: zone) == nil)
        #expect(InteractionRowParser.parseTime("yesterday", timeZone: zone) == nil)
    }

    @Test func aRowNamesItsContactByPhoneAndKeepsOtherColumnsAsAttributes() throws {
        let row = ["kind": "order", "phone": "+86 138-0013-8000", "occurred_at": "2026-11-20", "amount": "99.90", "source_id": "A1", "城市": "上海"]
        let interaction = try parser.parse(row).get()
        #expect(interaction.contact == .phone("13800138000"))
        #expect(interaction.amountCents == 9_990)
        #expect(interaction.source == "file")
        #expect(interaction.attributes == ["城市": "上海"])
    }

    @Test func badRowsSayWhatIsWrong() {
        func message(_ row: [String: String]) -> String? {
            if case .failure(let error) = parser.parse(row) { return error.description }
            return nil
        }
        #expect(message(["kind": "refund", "external_userid": "wm1", "occurred_at": "2026-11-20", "source_id": "1"])?.contains("unknown kind") == true)
        #expect(message(["kind": "order", "occurred_at": "2026-11-20", "amount": "1", "source_id": "1"])?.contains("no contact") == true)
        #expect(message(["kind": "order", "external_userid": "wm1", "occurred_at": "2026-11-20", "source_id": "1"]) == "an order needs an amount")
        #expect(message(["kind": "feedback", "external_userid": "wm1", "occurred_at": "2026-11-20"]) == "missing source_id")
        #expect(message(["kind": "feedback", "external_userid": "wm1", "occurred_at": "soon", "source_id": "1"])?.hasPrefix("occurred_at") == true)
    }
}
