import CohortConfig
import CohortCore
import Foundation
import Testing

/// grading.yaml and tags.yaml: every mistake at its file, line and column, nothing half-loaded.
struct GradingLoaderTests {
    func load(grading: String = "timezone: Asia/Shanghai\n", tags: String) throws -> [String] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-grading-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try grading.write(to: dir.appendingPathComponent("grading.yaml"), atomically: true, encoding: .utf8)
        try tags.write(to: dir.appendingPathComponent("tags.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try GradingLoader(directory: dir.path).load()
            return []
        } catch {
            return error.issues.map { "\(URL(fileURLWithPath: $0.file).lastPathComponent):\($0.line):\($0.column): \($0.message)" }
        }
    }

    @Test func ruleErrorsPointIntoTheFileEvenInsideBlocksAndQuotes() throws {
        let issues = try load(
            tags: """
                groups:
                  - name: X
                    tags:
                      - name: a
                        rule: "ordrs(within: 3d) > 1"
                      - name: b
                        rule: |
                          orders() >= 1
                            and rfm == 3
                      - name: c
                        rule: frequncy > 2
                    exclusiv: true
                """)
        #expect(issues.contains("tags.yaml:5:16: unknown function 'ordrs'; did you mean 'orders'?"))
        #expect(issues.contains { $0.hasPrefix("tags.yaml:9:21: cannot compare string with number") })
        #expect(issues.contains("tags.yaml:11:15: unknown field 'frequncy'; did you mean 'frequency'?"))
        #expect(issues.contains("tags.yaml:12:5: unknown key groups[0].exclusiv; did you mean exclusive?"))
    }

    /// Found by the config fuzzer: an attribute named like a built-in field trapped the loader.
    @Test func anAttributeNamedLikeAFieldOrFunctionIsAnErrorNotACrash() throws {
        let grading = "attributes:\n  r: number\n  staff: string\n  orders: number\n  2nd: string\n  city: string\n"
        let issues = try load(grading: grading, tags: "groups:\n  - name: X\n    tags:\n      - name: a\n        rule: city == \"x\"\n")
        #expect(issues.count == 4, "\(issues)")
        #expect(issues.contains { $0.hasPrefix("grading.yaml:2:6: attributes.r: 'r' is already a field or function") })
        #expect(issues.contains { $0.hasPrefix("grading.yaml:3:10: attributes.staff:") })
        #expect(issues.contains { $0.hasPrefix("grading.yaml:4:11: attributes.orders:") })
        #expect(issues.contains { $0.hasPrefix("grading.yaml:5:8: attributes.2nd: '2nd' is not a valid rule identifier") })
    }

    @Test func aRuleWithAnUnquotedColonGetsAHintAboutQuoting() throws {
        let issues = try load(tags: "groups:\n  - name: X\n    tags:\n      - name: a\n        rule: orders(within: 3d) > 1\n")
        #expect(issues.first?.contains("must be quoted or written as a block") == true)
    }

    @Test func theLinterReportsUnreachableSegmentsAndUnmatchedScores() throws {
        let grading = """
            rfm:
              segments:
                - segment: At Risk
                  r: [1, 2]
                  fm: [2, 5]
                - segment: Can't Lose Them
                  r: [1, 1]
                  fm: [4, 5]
            """
        let issues = try load(grading: grading, tags: "groups: []\n")
        #expect(issues.contains { $0.contains("segment \"Can't Lose Them\" can never be reached") })
        #expect(issues.contains { $0.contains("combinations match no segment") })
    }

    @Test func thresholdsMustBeFourMonotonicCutoffs() throws {
        let issues = try load(
            grading: "rfm:\n  scoring: thresholds\n  thresholds:\n    r: [7, 30, 90, 180]\n    f: [2, 3, 5]\n    m: [100, 500, 1000, 5000]\n",
            tags: "groups: []\n")
        #expect(issues.contains { $0.hasPrefix("grading.yaml:5:") && $0.contains("four numbers") })
    }

    @Test func theShippedRulesLoadAndTheirFixturesHold() throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config").path
        let rules = try GradingLoader(directory: config).load()
        let fixtures = try FixtureLoader(directory: config).load(timeZone: rules.grading.timeZone)
        #expect(!fixtures.isEmpty)
        for fixture in fixtures { #expect(fixture.run(rules: rules) == [], "\(fixture.name)") }
    }
}
