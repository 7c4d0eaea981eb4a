import CohortCore
import CohortTemplates
import Foundation
import Yams

/// Segments, campaigns, welcome messages and their templates, checked as a whole.
public struct CampaignRules: Sendable {
    public let segments: SegmentSet
    public let config: CampaignsConfig
    /// Per welcome choice, in order: its rule over the new relation (nil matches all).
    public let welcomeRules: [CompiledRule?]
    /// The metrics welcome rules read (the grading metrics plus their own).
    public let welcomeMetrics: RuleMetricRegistry
    /// Compiled templates by file name (relative to the templates directory).
    public let templates: [String: PlainTextTemplate]
    /// A hash of segments.yaml, campaigns.yaml and every template.
    public let version: String
    /// segments.yaml as read, for the config history.
    public let segmentsText: String

    /// The renderer of one campaign's variants.
    public func renderer(for campaign: CampaignSpec) -> CampaignMessageRenderer {
        CampaignMessageRenderer(templates: campaign.variants.map { templates[$0.template.name]! })
    }

    /// The metric plan welcome rules are evaluated with.
    public func welcomePlan(asOf: Int64, grading: GradingRules) -> MetricPlan {
        MetricPlan(
            requests: welcomeMetrics.requests, rfmWindowDays: grading.grading.rfmWindowDays, asOf: asOf,
            calendar: BusinessCalendar(timeZone: grading.grading.timeZone))
    }

    /// Renders welcome choices: variant i is `config.welcome[i]`.
    public var welcomeRenderer: CampaignMessageRenderer {
        CampaignMessageRenderer(templates: config.welcome.map { templates[$0.template.name]! })
    }

    /// The template variant index for a contact, from its segment memberships.
    public func variant(of campaign: CampaignSpec, contact: Int, membership: SegmentMembership) -> Int {
        for (index, variant) in campaign.variants.enumerated() {
            guard let segment = variant.segment else { return index }
            if let position = segments.index(of: segment.name), membership.contains(contact: contact, segment: position) { return index }
        }
        return campaign.variants.count - 1
    }
}

/// Reads Config/segments.yaml and Config/campaigns.yaml and the templates they name.
public struct CampaignLoader: Sendable {
    public var directory: String
    public var templatesDirectory: String

    public init(directory: String = "Config", templatesDirectory: String = "Templates") {
        self.directory = directory
        self.templatesDirectory = templatesDirectory
    }

    private func path(_ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private func templatePath(_ name: String) -> String {
        templatesDirectory.hasSuffix("/") ? templatesDirectory + name : templatesDirectory + "/" + name
    }

    /// Everything compiled, or every problem found at its file, line and column.
    public func load(grading: GradingRules) throws(ConfigError) -> CampaignRules {
        try load(grading: grading, segmentsOverride: nil)
    }

    /// As ``load(grading:)``, reading segments from `segmentsText` instead of the file (to
    /// compare another version of segments.yaml, such as the last applied one).
    public func load(grading: GradingRules, segmentsOverride: String?) throws(ConfigError) -> CampaignRules {
        var issues: [ConfigIssue] = []
        var contents: [String] = []
        var segments = SegmentsConfig()
        let segmentsFile = path("segments.yaml")
        let segmentsText = segmentsOverride ?? (try? String(contentsOfFile: segmentsFile, encoding: .utf8)) ?? ""
        if !segmentsText.isEmpty {
            contents.append(segmentsText)
            let collector = IssueCollector(file: segmentsFile)
            if let root = composeYAML(segmentsText, issues: collector), collector.issues.isEmpty {
                readSegments(MappingReader(root, path: "", issues: collector), text: segmentsText, into: &segments)
            }
            issues += collector.issues
        }
        var campaigns = CampaignsConfig()
        let campaignsFile = path("campaigns.yaml")
        if let text = try? String(contentsOfFile: campaignsFile, encoding: .utf8) {
            contents.append(text)
            let collector = IssueCollector(file: campaignsFile)
            if let root = composeYAML(text, issues: collector), collector.issues.isEmpty {
                readCampaigns(MappingReader(root, path: "", issues: collector), text: text, into: &campaigns)
            }
            issues += collector.issues
        }
        // Segments compile even when other keys are wrong, so one run shows every mistake.
        var segmentSet: SegmentSet?
        switch SegmentSet.compile(segments, grading: grading, version: GradingRules.version(of: [segmentsText])) {
        case .success(let set): segmentSet = set
        case .failure(let problems):
            issues += problems.issues.map { ConfigIssue(file: $0.file, line: $0.line, column: $0.column, message: $0.message) }
        }
        func issue(_ reference: NameReference, _ message: String) {
            issues.append(ConfigIssue(file: reference.file, line: reference.line, column: reference.column, message: message))
        }
        if let segmentSet {
            let names = segmentSet.segments.map(\.name)
            func check(_ reference: NameReference) {
                guard segmentSet.index(of: reference.name) == nil else { return }
                let hint = suggestion(for: reference.name, among: names).map { "; did you mean \"\($0)\"?" } ?? ""
                issue(reference, "unknown segment \"\(reference.name)\"\(hint) (segments.yaml defines: \(names.joined(separator: ", ")))")
            }
            for campaign in campaigns.campaigns {
                check(campaign.segment)
                for variant in campaign.variants { if let segment = variant.segment { check(segment) } }
            }
        }
        // Welcome rules read the new relation, like tag rules.
        var metrics = grading.metrics
        var welcomeRules: [CompiledRule?] = []
        for welcome in campaigns.welcome {
            guard let rule = welcome.rule else {
                welcomeRules.append(nil)
                continue
            }
            switch RuleCompiler.compile(rule.text, schema: grading.schema.relation, metrics: &metrics) {
            case .success(let compiled): welcomeRules.append(compiled)
            case .failure(let errors):
                for diagnostic in errors.diagnostics {
                    let position = rule.filePosition(line: diagnostic.location.line, column: diagnostic.location.column)
                    let hint = diagnostic.suggestion.map { "; \($0)" } ?? ""
                    issues.append(ConfigIssue(file: rule.file, line: position.line, column: position.column, message: diagnostic.message + hint))
                }
                welcomeRules.append(nil)
            }
        }
        // Every template named anywhere is compiled against what the data can supply.
        let shape = TemplateShape.campaignMessage(attributes: grading.grading.attributes.map(\.name))
        var templates: [String: PlainTextTemplate] = [:]
        let references = campaigns.campaigns.flatMap { $0.variants.map(\.template) } + campaigns.welcome.map(\.template)
        for reference in references where templates[reference.name] == nil {
            let file = templatePath(reference.name)
            guard let source = try? String(contentsOfFile: file, encoding: .utf8) else {
                issue(reference, "template \(file) not found")
                continue
            }
            contents.append(source)
            do {
                templates[reference.name] = try PlainTextTemplate(source: source, name: reference.name, shape: shape)
            } catch {
                for problem in error.issues {
                    issues.append(ConfigIssue(file: file, line: problem.line, column: problem.column, message: problem.message))
                }
            }
        }
        guard issues.isEmpty, let segmentSet else { throw ConfigError(issues: issues) }
        return CampaignRules(
            segments: segmentSet, config: campaigns, welcomeRules: welcomeRules, welcomeMetrics: metrics, templates: templates,
            version: GradingRules.version(of: contents), segmentsText: segmentsText)
    }

    // MARK: segments.yaml

    private func readSegments(_ root: MappingReader, text: String, into config: inout SegmentsConfig) {
        let issues = root.issues
        guard let node = root.node("segments") else {
            root.finish()
            return
        }
        guard case .sequence(let items) = node else {
            issues.add("segments must be a list of segments (name, rule)", at: node.mark)
            root.finish()
            return
        }
        let grading = GradingLoader(directory: directory)
        for (position, item) in items.enumerated() {
            let entry = MappingReader(item, path: "segments[\(position)]", issues: issues)
            let name = entry.string("name")
            if name == nil { entry.missing("name") }
            let nameMark = entry.node("name")?.mark
            let description = entry.string("description")
            let rule = grading.ruleText(entry, "rule", text: text, file: issues.file)
            var exclude: [NameReference] = []
            if let excludeNode = entry.node("exclude") {
                for (value, mark) in grading.strings(excludeNode, path: "segments[\(position)].exclude", issues: issues) {
                    exclude.append(NameReference(value, file: issues.file, line: mark?.line ?? 1, column: mark?.column ?? 1))
                }
            }
            entry.finish()
            if let name, let rule {
                config.segments.append(SegmentSpec(
                    name: NameReference(name, file: issues.file, line: nameMark?.line ?? 1, column: nameMark?.column ?? 1),
                    description: description, rule: rule, exclude: exclude))
            }
        }
        root.finish()
    }

    // MARK: campaigns.yaml

    private func reference(_ entry: MappingReader, _ key: String) -> NameReference? {
        guard let value = entry.string(key) else { return nil }
        let mark = entry.node(key)?.mark
        return NameReference(value, file: entry.issues.file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private func readCampaigns(_ root: MappingReader, text: String, into config: inout CampaignsConfig) {
        let issues = root.issues
        let dispatch = root.mapping("dispatch")
        if let capsNode = dispatch.node("frequency_caps") {
            config.dispatch.frequencyCaps = frequencyCaps(capsNode, issues: issues)
        }
        if let rate = dispatch.double("pause_error_rate", in: 0...1) { config.dispatch.pauseErrorRate = rate }
        if let window = dispatch.int("error_window", in: 2...1000) { config.dispatch.errorWindow = window }
        if let node = dispatch.node("reminders") {
            var reminders: [Int64] = []
            for (value, mark) in GradingLoader(directory: directory).strings(node, path: "dispatch.reminders", issues: issues) {
                if let seconds = GradingLoader.duration(value), seconds > 0 { reminders.append(seconds) } else {
                    issues.add("dispatch.reminders: \"\(value)\" is not a duration such as 4h or 1d", at: mark)
                }
            }
            config.dispatch.reminders = reminders.sorted()
        }
        if let text = dispatch.string("poll_for") {
            if let seconds = GradingLoader.duration(text), seconds > 0 { config.dispatch.pollFor = seconds } else {
                issues.add("dispatch.poll_for must be a duration such as 7d, not \"\(text)\"", at: dispatch.node("poll_for")?.mark)
            }
        }
        if let node = dispatch.node("opt_out_tags") {
            config.dispatch.optOutTags = GradingLoader(directory: directory).strings(node, path: "dispatch.opt_out_tags", issues: issues).map(\.0)
        }
        dispatch.finish()

        if let node = root.node("campaigns") {
            if case .sequence(let items) = node {
                var seen: Set<String> = []
                for (position, item) in items.enumerated() {
                    let entry = MappingReader(item, path: "campaigns[\(position)]", issues: issues)
                    if let campaign = readCampaign(entry, position: position) {
                        if seen.insert(campaign.name).inserted {
                            config.campaigns.append(campaign)
                        } else {
                            issues.add("campaign \"\(campaign.name)\" is defined twice", at: entry.node("name")?.mark)
                        }
                    }
                    entry.finish()
                }
            } else {
                issues.add("campaigns must be a list of campaigns", at: node.mark)
            }
        }
        if let node = root.node("welcome") {
            if case .sequence(let items) = node {
                let grading = GradingLoader(directory: directory)
                for (position, item) in items.enumerated() {
                    let entry = MappingReader(item, path: "welcome[\(position)]", issues: issues)
                    let rule = grading.ruleText(entry, "when", text: text, file: issues.file, required: false)
                    let template = reference(entry, "template")
                    if template == nil { entry.missing("template") }
                    if rule == nil, position < items.count - 1 {
                        issues.add("welcome[\(position)] has no `when`, so the choices after it are never used", at: item.mark)
                    }
                    entry.finish()
                    if let template { config.welcome.append(WelcomeSpec(rule: rule, template: template)) }
                }
            } else {
                issues.add("welcome must be a list of choices (when, template)", at: node.mark)
            }
        }
        root.finish()
    }

    private func readCampaign(_ entry: MappingReader, position: Int) -> CampaignSpec? {
        let issues = entry.issues
        let name = entry.string("name")
        if name == nil { entry.missing("name") }
        if let name, name.isEmpty || name.contains(where: { $0.isWhitespace || $0 == "/" }) {
            issues.add("campaign name \"\(name)\" must not be empty or hold spaces or /", at: entry.node("name")?.mark)
        }
        let segment = reference(entry, "segment")
        if segment == nil { entry.missing("segment") }
        var variants: [CampaignVariant] = []
        if let node = entry.node("variants") {
            if case .sequence(let items) = node {
                for (index, item) in items.enumerated() {
                    let variant = MappingReader(item, path: "\(entry.path).variants[\(index)]", issues: issues)
                    let segment = reference(variant, "segment")
                    if segment == nil { variant.missing("segment", hint: "variants choose a template per sub-segment; `template` is the default") }
                    let template = reference(variant, "template")
                    if template == nil { variant.missing("template") }
                    variant.finish()
                    if let segment, let template { variants.append(CampaignVariant(segment: segment, template: template)) }
                }
            } else {
                issues.add("\(entry.path).variants must be a list of (segment, template)", at: node.mark)
            }
        }
        let template = reference(entry, "template")
        if template == nil { entry.missing("template", hint: "the template for everyone no variant catches") }
        if let template { variants.append(CampaignVariant(segment: nil, template: template)) }

        var attachments: [CampaignAttachment] = []
        if let node = entry.node("attachments") {
            if case .sequence(let items) = node {
                if items.count > 9 { issues.add("\(entry.path).attachments: the platform takes at most 9", at: node.mark) }
                for (index, item) in items.enumerated() {
                    if let attachment = readAttachment(MappingReader(item, path: "\(entry.path).attachments[\(index)]", issues: issues)) {
                        attachments.append(attachment)
                    }
                }
            } else {
                issues.add("\(entry.path).attachments must be a list", at: node.mark)
            }
        }
        var timeZone = TimeZone(identifier: "Asia/Shanghai")!
        var startAt: Int64?
        let schedule = entry.mapping("schedule")
        if let zone = schedule.string("timezone") {
            if let parsed = TimeZone(identifier: zone) { timeZone = parsed } else {
                issues.add("\(entry.path).schedule.timezone \"\(zone)\" is not a time zone name such as Asia/Shanghai", at: schedule.node("timezone")?.mark)
            }
        }
        if let start = schedule.string("start") {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = timeZone
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            if let date = formatter.date(from: start) { startAt = Int64(date.timeIntervalSince1970) } else {
                issues.add("\(entry.path).schedule.start must be a local time such as \"2026-12-01 10:00\", not \"\(start)\"", at: schedule.node("start")?.mark)
            }
        }
        schedule.finish()
        var quiet: QuietHours?
        if entry.has("quiet_hours") {
            let hours = entry.mapping("quiet_hours")
            let from = hours.string("from").flatMap(GradingLoader.timeOfDay)
            let to = hours.string("to").flatMap(GradingLoader.timeOfDay)
            let action = hours.choice("action", of: QuietHours.Action.self) ?? .defer_
            if from == nil || to == nil {
                issues.add("\(entry.path).quiet_hours needs from and to as local times such as \"21:00\" and \"09:00\"", at: hours.mark)
            }
            hours.finish()
            if let from, let to { quiet = QuietHours(start: from, end: to, action: action) }
        }
        let priority = entry.int("priority", in: -1000...1000) ?? 0
        let holdout = entry.double("holdout", in: 0...0.5) ?? 0
        let sender = entry.choice("sender", of: SenderPolicy.self) ?? .recentInteraction
        let maxTasks = entry.int("max_tasks_per_sender", in: 1...10_000) ?? 50
        guard let name, let segment, !variants.isEmpty else { return nil }
        return CampaignSpec(
            name: name, segment: segment, variants: variants, attachments: attachments, startAt: startAt, timeZone: timeZone,
            quietHours: quiet, priority: priority, holdout: holdout, sender: sender, maxTasksPerSender: maxTasks)
    }

    private func readAttachment(_ entry: MappingReader) -> CampaignAttachment? {
        let issues = entry.issues
        defer { entry.finish() }
        func bytes(_ value: String?, _ key: String, max: Int, in mapping: MappingReader) {
            if let value, value.utf8.count > max {
                issues.add("\(mapping.path).\(key) is \(value.utf8.count) bytes; the platform takes at most \(max)", at: mapping.node(key)?.mark)
            }
        }
        if entry.has("link") {
            let link = entry.mapping("link")
            defer { link.finish() }
            let title = link.string("title")
            let url = link.string("url")
            let description = link.string("description")
            let picture = link.string("picture_url")
            bytes(title, "title", max: 128, in: link)
            bytes(url, "url", max: 2048, in: link)
            bytes(description, "description", max: 512, in: link)
            bytes(picture, "picture_url", max: 2048, in: link)
            if title == nil { link.missing("title") }
            if url == nil { link.missing("url") }
            guard let title, let url else { return nil }
            return .link(title: title, url: url, description: description, pictureURL: picture)
        }
        if entry.has("image") {
            let image = entry.mapping("image")
            defer { image.finish() }
            let file = image.string("file")
            let picURL = image.string("pic_url")
            if (file == nil) == (picURL == nil) {
                issues.add("\(image.path) needs exactly one of file (uploaded when dispatch starts) or pic_url", at: image.mark)
                return nil
            }
            if let file, !FileManager.default.fileExists(atPath: file) {
                issues.add("\(image.path).file: \(file) not found (paths are relative to where cohort runs)", at: image.node("file")?.mark)
            }
            return .image(file: file, picURL: picURL)
        }
        if entry.has("miniprogram") {
            let mini = entry.mapping("miniprogram")
            defer { mini.finish() }
            let title = mini.string("title")
            let appID = mini.string("appid")
            let page = mini.string("page")
            let picture = mini.string("picture")
            bytes(title, "title", max: 64, in: mini)
            for (key, value) in [("title", title), ("appid", appID), ("page", page), ("picture", picture)] where value == nil {
                mini.missing(key)
            }
            if let picture, !FileManager.default.fileExists(atPath: picture) {
                issues.add("\(mini.path).picture: \(picture) not found (paths are relative to where cohort runs)", at: mini.node("picture")?.mark)
            }
            guard let title, let appID, let page, let picture else { return nil }
            return .miniProgram(title: title, appID: appID, page: page, pictureFile: picture)
        }
        issues.add("\(entry.path) must be one of link, image or miniprogram", at: entry.mark)
        _ = entry.node("video"); _ = entry.node("file")
        return nil
    }

    private func frequencyCaps(_ node: Node, issues: IssueCollector) -> [FrequencyCap] {
        guard case .sequence(let items) = node else {
            issues.add("dispatch.frequency_caps must be a list such as [{max: 4, within: 30d}, {max: 1, per: day}]", at: node.mark)
            return [.platformQuota]
        }
        var caps: [FrequencyCap] = []
        for (index, item) in items.enumerated() {
            if case .scalar(let scalar) = item, scalar.string == "platform_quota" {
                caps.append(.platformQuota)
                continue
            }
            let entry = MappingReader(item, path: "dispatch.frequency_caps[\(index)]", issues: issues)
            let max = entry.int("max", in: 1...1000)
            if max == nil, !entry.has("max") { entry.missing("max") }
            let within = entry.string("within")
            let per = entry.string("per")
            var window: FrequencyCap.Window?
            switch (within, per) {
            case (let within?, nil):
                if let seconds = GradingLoader.duration(within), seconds > 0, seconds % 86_400 == 0 {
                    window = .rollingDays(Int(seconds / 86_400))
                } else {
                    issues.add("\(entry.path).within must be whole days such as 30d, not \"\(within)\"", at: entry.node("within")?.mark)
                }
            case (nil, let per?):
                switch per {
                case "day": window = .calendarDay
                case "week": window = .calendarWeek
                case "month": window = .calendarMonth
                default: issues.add("\(entry.path).per must be day, week or month, not \"\(per)\"", at: entry.node("per")?.mark)
                }
            default:
                issues.add("\(entry.path) needs exactly one of within (rolling days) or per (day, week, month)", at: entry.mark)
            }
            entry.finish()
            if let max, let window { caps.append(FrequencyCap(max: max, window: window)) }
        }
        return caps
    }
}
