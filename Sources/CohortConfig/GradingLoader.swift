import CohortCore
import Foundation
import Yams

/// Reads Config/grading.yaml and Config/tags.yaml, then type-checks every rule in them as a
/// whole. A broken file yields every problem at its file, line and column, and nothing else.
public struct GradingLoader: Sendable {
    public var directory: String

    public init(directory: String = "Config") {
        self.directory = directory
    }

    private func path(_ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The compiled rules, or every problem found.
    public func load() throws(ConfigError) -> GradingRules {
        var issues: [ConfigIssue] = []
        var contents: [String] = []
        var grading = GradingConfig()
        var tags = TagRulesConfig()
        let gradingFile = path("grading.yaml")
        if let text = try? String(contentsOfFile: gradingFile, encoding: .utf8) {
            contents.append(text)
            let collector = IssueCollector(file: gradingFile)
            if let root = composeYAML(text, issues: collector), collector.issues.isEmpty {
                readGrading(MappingReader(root, path: "", issues: collector), text: text, into: &grading)
            }
            issues += collector.issues
        }
        let tagsFile = path("tags.yaml")
        if let text = try? String(contentsOfFile: tagsFile, encoding: .utf8) {
            contents.append(text)
            let collector = IssueCollector(file: tagsFile)
            if let root = composeYAML(text, issues: collector), collector.issues.isEmpty {
                readTags(MappingReader(root, path: "", issues: collector), text: text, into: &tags)
            }
            issues += collector.issues
        }
        // Rules are type-checked even when other keys are wrong, so one run shows every mistake.
        switch GradingRules.compile(grading: grading, tags: tags, version: GradingRules.version(of: contents)) {
        case .success(let rules):
            guard issues.isEmpty else { throw ConfigError(issues: issues) }
            return rules
        case .failure(let problems):
            throw ConfigError(
                issues: issues + problems.issues.map { ConfigIssue(file: $0.file, line: $0.line, column: $0.column, message: $0.message) })
        }
    }

    // MARK: grading.yaml

    private func readGrading(_ root: MappingReader, text: String, into config: inout GradingConfig) {
        let issues = root.issues
        if let zone = root.string("timezone") {
            if let timeZone = TimeZone(identifier: zone) {
                config.timeZone = timeZone
            } else {
                issues.add("timezone \"\(zone)\" is not a time zone name such as Asia/Shanghai", at: root.node("timezone")?.mark)
            }
        }
        if let node = root.node("kinds") {
            for (value, mark) in strings(node, path: "kinds", issues: issues) {
                if Interaction.builtInKinds.contains(value) {
                    issues.add("kinds: \(value) is built in; list only your own kinds", at: mark)
                } else if !Self.isIdentifier(value) {
                    issues.add("kinds: \"\(value)\" must be lowercase letters, digits and _", at: mark)
                } else {
                    config.customKinds.append(value)
                }
            }
        }
        let attributes = root.mapping("attributes")
        for key in attributes.keys {
            guard let typeName = attributes.string(key) else { continue }
            let types: [String: RuleType] = ["number": .number, "string": .string, "bool": .bool]
            if let problem = GradingSchema.attributeProblem(key) ?? (config.attributes.contains { $0.name == key } ? "'\(key)' is declared twice" : nil) {
                issues.add("attributes.\(key): \(problem); choose another name", at: attributes.node(key)?.mark)
            } else if let type = types[typeName] {
                config.attributes.append((key, type))
            } else {
                issues.add("attributes.\(key) must be number, string or bool, not \"\(typeName)\"", at: attributes.node(key)?.mark)
            }
        }
        attributes.finish()

        let rfm = root.mapping("rfm")
        if let window = rfm.string("window") {
            if let seconds = Self.duration(window), seconds % 86_400 == 0, seconds > 0 {
                config.rfmWindowDays = Int(seconds / 86_400)
            } else {
                issues.add("rfm.window must be a number of days or weeks such as 365d, not \"\(window)\"", at: rfm.node("window")?.mark)
            }
        }
        let scoring = rfm.string("scoring") ?? "quantiles"
        let thresholds = rfm.mapping("thresholds")
        switch scoring {
        case "quantiles":
            if !thresholds.isEmpty { issues.add("rfm.thresholds is only used with scoring: thresholds", at: thresholds.mark) }
            _ = thresholds.node("r"); _ = thresholds.node("f"); _ = thresholds.node("m")
        case "thresholds":
            let r = cutoffs(thresholds, "r", issues: issues)
            let f = cutoffs(thresholds, "f", issues: issues)
            let m = cutoffs(thresholds, "m", issues: issues, money: true)
            if let r, let f, let m {
                let candidate = RFMThresholds(recencyDays: r.map(Int.init), frequency: f.map(Int.init), monetaryCents: m)
                if let problem = candidate.validationError {
                    issues.add("rfm.thresholds: \(problem)", at: thresholds.mark)
                } else {
                    config.rfm.scoring = .thresholds(candidate)
                }
            }
        default:
            issues.add("rfm.scoring must be quantiles or thresholds, not \"\(scoring)\"", at: rfm.node("scoring")?.mark)
        }
        thresholds.finish()
        if let node = rfm.node("segments") {
            if let map = segmentMap(node, issues: issues) {
                let lint = map.lint()
                for segment in lint.unreachable {
                    issues.add("rfm.segments: segment \"\(segment)\" can never be reached (rules above it match all its scores)", at: node.mark)
                }
                if !lint.unmatched.isEmpty {
                    let cells = lint.unmatched.prefix(8).map { "(\($0.r), \($0.f), \($0.m))" }.joined(separator: ", ")
                    let more = lint.unmatched.count > 8 ? " and \(lint.unmatched.count - 8) more" : ""
                    issues.add("rfm.segments: \(lint.unmatched.count) (R, F, M) combinations match no segment: \(cells)\(more)", at: node.mark)
                }
                config.rfm.segmentMap = map
            }
        }
        rfm.finish()

        let abc = root.mapping("abc")
        if let a = abc.double("a", in: 0.01...1) { config.rfm.abc.aShare = a }
        if let b = abc.double("b", in: 0.01...1) { config.rfm.abc.bShare = b }
        if config.rfm.abc.aShare > config.rfm.abc.bShare {
            issues.add("abc.a (\(config.rfm.abc.aShare)) must not be above abc.b (\(config.rfm.abc.bShare))", at: abc.mark)
        }
        abc.finish()
        let clv = root.mapping("clv")
        if let years = clv.double("lifetime_years", in: 0...100) { config.rfm.clv.lifetimeYears = years }
        if let margin = clv.double("margin", in: 0...1) { config.rfm.clv.margin = margin }
        clv.finish()

        if let node = root.node("lifecycle") {
            guard case .sequence(let items) = node else {
                issues.add("lifecycle must be a list of transitions (to, from, when)", at: node.mark)
                root.finish()
                return
            }
            for (position, item) in items.enumerated() {
                let entry = MappingReader(item, path: "lifecycle[\(position)]", issues: issues)
                let to = entry.choice("to", of: LifecycleStage.self)
                var from: [LifecycleStage] = []
                if let fromNode = entry.node("from") {
                    for (value, mark) in strings(fromNode, path: "lifecycle[\(position)].from", issues: issues) {
                        if let stage = LifecycleStage(rawValue: value) { from.append(stage) } else {
                            issues.add("unknown lifecycle stage \"\(value)\" (stages: \(LifecycleStage.allCases.map(\.rawValue).joined(separator: ", ")))", at: mark)
                        }
                    }
                } else {
                    entry.missing("from")
                }
                let rule = ruleText(entry, "when", text: text, file: issues.file)
                if to == nil, !entry.has("to") { entry.missing("to") }
                entry.finish()
                if let to, let rule { config.lifecycle.append(LifecycleTransition(to: to, from: from, rule: rule)) }
            }
        }
        let schedule = root.mapping("schedule")
        if let value = schedule.string("full_regrade") {
            if value == "off" {
                config.schedule.dailyAtMinute = nil
            } else if let minute = Self.timeOfDay(value) {
                config.schedule.dailyAtMinute = minute
            } else {
                issues.add("schedule.full_regrade must be a local time such as \"03:00\" or off, not \"\(value)\"", at: schedule.node("full_regrade")?.mark)
            }
        }
        schedule.finish()
        root.finish()
    }

    private func cutoffs(_ mapping: MappingReader, _ key: String, issues: IssueCollector, money: Bool = false) -> [Int64]? {
        guard let node = mapping.node(key) else {
            mapping.missing(key, hint: "four cut-offs for scores 2, 3, 4 and 5")
            return nil
        }
        guard case .sequence(let items) = node, items.count == 4 else {
            issues.add("rfm.thresholds.\(key) must be a list of four numbers (the cut-offs for scores 2, 3, 4 and 5)", at: node.mark)
            return nil
        }
        var values: [Int64] = []
        for item in items {
            guard let number = item.float ?? item.int.map(Double.init) else {
                issues.add("rfm.thresholds.\(key) must hold numbers, not \(describe(item))", at: item.mark)
                return nil
            }
            values.append(money ? Int64((number * 100).rounded()) : Int64(number))
        }
        return values
    }

    private func segmentMap(_ node: Node, issues: IssueCollector) -> RFMSegmentMap? {
        if case .scalar(let scalar) = node {
            switch scalar.string {
            case "rf_grid": return .rfGrid
            case "rfm_table": return .rfmTable
            default:
                issues.add("rfm.segments must be rf_grid, rfm_table or a list of segment rules, not \"\(scalar.string)\"", at: node.mark)
                return nil
            }
        }
        guard case .sequence(let items) = node else {
            issues.add("rfm.segments must be rf_grid, rfm_table or a list of segment rules", at: node.mark)
            return nil
        }
        var rules: [RFMSegmentRule] = []
        for (position, item) in items.enumerated() {
            let entry = MappingReader(item, path: "rfm.segments[\(position)]", issues: issues)
            guard let name = entry.string("segment") else {
                entry.missing("segment")
                entry.finish()
                continue
            }
            func range(_ key: String) -> ClosedRange<Int>? {
                guard let value = entry.node(key) else { return nil }
                guard case .sequence(let bounds) = value, bounds.count == 2, let low = bounds[0].int, let high = bounds[1].int, low <= high,
                    (0...5).contains(low), (0...5).contains(high)
                else {
                    issues.add("rfm.segments[\(position)].\(key) must be [low, high] with scores 0 to 5", at: value.mark)
                    return nil
                }
                return low...high
            }
            let fm: ClosedRange<Double>? = range("fm").map { Double($0.lowerBound)...Double($0.upperBound) }
            rules.append(RFMSegmentRule(segment: name, r: range("r"), f: range("f"), m: range("m"), fm: fm))
            entry.finish()
        }
        return RFMSegmentMap(name: "custom", rules: rules)
    }

    // MARK: tags.yaml

    private func readTags(_ root: MappingReader, text: String, into config: inout TagRulesConfig) {
        let issues = root.issues
        guard let node = root.node("groups") else {
            root.finish()
            return
        }
        guard case .sequence(let items) = node else {
            issues.add("groups must be a list of tag groups", at: node.mark)
            root.finish()
            return
        }
        var seenGroups: Set<String> = []
        for (position, item) in items.enumerated() {
            let entry = MappingReader(item, path: "groups[\(position)]", issues: issues)
            let name = entry.string("name")
            if name == nil { entry.missing("name") }
            if let name, name.contains("/") { issues.add("group name \"\(name)\" must not contain /", at: entry.node("name")?.mark) }
            if let name, !seenGroups.insert(name).inserted { issues.add("group \"\(name)\" is defined twice", at: entry.node("name")?.mark) }
            let owner = entry.choice("owner", of: TagGroupOwner.self) ?? .rules
            let exclusive = entry.bool("exclusive") ?? false
            var tags: [TagRuleSpec] = []
            if let tagsNode = entry.node("tags") {
                guard case .sequence(let tagItems) = tagsNode else {
                    issues.add("groups[\(position)].tags must be a list", at: tagsNode.mark)
                    entry.finish()
                    continue
                }
                var seenTags: Set<String> = []
                for (tagPosition, tagItem) in tagItems.enumerated() {
                    let tagEntry = MappingReader(tagItem, path: "groups[\(position)].tags[\(tagPosition)]", issues: issues)
                    let tagName = tagEntry.string("name")
                    if tagName == nil { tagEntry.missing("name") }
                    if let tagName, !seenTags.insert(tagName).inserted {
                        issues.add("tag \"\(tagName)\" is defined twice in this group", at: tagEntry.node("name")?.mark)
                    }
                    var ttl: Int64?
                    if let ttlText = tagEntry.string("ttl") {
                        if let seconds = Self.duration(ttlText), seconds > 0 { ttl = seconds } else {
                            issues.add("ttl must be a duration such as 30d or 12h, not \"\(ttlText)\"", at: tagEntry.node("ttl")?.mark)
                        }
                    }
                    let rule = ruleText(tagEntry, "rule", text: text, file: issues.file, required: owner == .rules)
                    if owner == .staff, tagEntry.has("rule") {
                        issues.add("a staff-owned group has no rules: Cohort never changes its tags (set owner: rules)", at: tagEntry.node("rule")?.mark)
                    }
                    tagEntry.finish()
                    if let tagName, let rule { tags.append(TagRuleSpec(name: tagName, rule: rule, ttl: ttl)) }
                }
            }
            entry.finish()
            if let name { config.groups.append(TagGroupSpec(name: name, owner: owner, exclusive: exclusive, tags: tags)) }
        }
        root.finish()
    }

    // MARK: Helpers

    /// A rule scalar with its position in the file, so rule errors point into the file.
    func ruleText(_ entry: MappingReader, _ key: String, text: String, file: String, required: Bool = true) -> RuleText? {
        guard let node = entry.node(key) else {
            if required { entry.missing(key, hint: "a rule such as orders(within: 90d) >= 3") }
            return nil
        }
        guard case .scalar(let scalar) = node else {
            entry.issues.add("\(entry.path).\(key) must be a rule (text), not \(describe(node))", at: node.mark)
            return nil
        }
        let line = node.mark?.line ?? 1
        let column = node.mark?.column ?? 1
        switch scalar.style {
        case .literal, .folded:
            // Block scalars start on the next line, at that line's indentation.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let next = line < lines.count ? lines[line] : ""
            let indent = next.prefix { $0 == " " }.count
            // The block's closing newline is YAML's, not the rule's.
            var rule = scalar.string
            while rule.last?.isNewline == true { rule.removeLast() }
            return RuleText(rule, file: file, line: line + 1, column: indent + 1, isBlock: true)
        case .singleQuoted, .doubleQuoted:
            return RuleText(scalar.string, file: file, line: line, column: column + 1)
        default:
            return RuleText(scalar.string, file: file, line: line, column: column)
        }
    }

    func strings(_ node: Node, path: String, issues: IssueCollector) -> [(String, Mark?)] {
        switch node {
        case .sequence(let items):
            return items.compactMap { item in
                guard case .scalar(let scalar) = item else {
                    issues.add("\(path) must hold names, not \(describe(item))", at: item.mark)
                    return nil
                }
                return (scalar.string, item.mark)
            }
        case .scalar(let scalar):
            return [(scalar.string, node.mark)]
        default:
            issues.add("\(path) must be a list of names", at: node.mark)
            return []
        }
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Seconds in `30d`, `2w`, `12h`, `15m`, `45s`.
    static func duration(_ text: String) -> Int64? {
        guard let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0 else { return nil }
        switch unit {
        case "s": return amount
        case "m": return amount * 60
        case "h": return amount * 3_600
        case "d": return amount * 86_400
        case "w": return amount * 604_800
        default: return nil
        }
    }

    /// Minutes after midnight of `HH:MM`.
    static func timeOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        return hour * 60 + minute
    }
}
