import CohortCore
import Testing

@testable import CohortTemplates

@Suite struct PlainTextTemplateTests {
    static let shape = TemplateShape.object([
        "contact": .object(["name": .scalar(nullable: true), "external_userid": .scalar(nullable: false)]),
        "grade": .object(["clv": .scalar(nullable: true), "frequency": .scalar(nullable: false)]),
        "tags": .list(item: .object(["name": .scalar(nullable: false)])),
    ])

    static func context(name: TemplateValue = .string("王芳"), clv: TemplateValue = .number(1234.5)) -> TemplateValue {
        .object([
            "contact": .object(["name": name, "external_userid": .string("wm1")]),
            "grade": .object(["clv": clv, "frequency": .number(3)]),
            "tags": .list([.object(["name": .string("VIP")]), .object(["name": .string("护肤")])]),
        ])
    }

    @Test func noFormOfVariableIsHTMLEscaped() throws {
        let template = try PlainTextTemplate(source: "{{contact.name}}|{{{contact.name}}}|{{& contact.name}}", name: "t", shape: Self.shape)
        let text = try template.render(Self.context(name: .string("<b>&\"'")))
        #expect(text == "<b>&\"'|<b>&\"'|<b>&\"'")
    }

    @Test func contactDataWithTemplateOrRuleSyntaxIsRenderedAsTextNeverReparsed() throws {
        let template = try PlainTextTemplate(source: "您好，{{contact.name}}！{{#tags}}[{{name}}]{{/tags}}", name: "t", shape: Self.shape)
        let hostile = "{{contact.external_userid}}{{#tags}}x{{/tags}}{{> /etc/passwd}} orders >= 1 && r == 5"
        var context = Self.context(name: .string(hostile))
        if case .object(var root) = context {
            root["tags"] = .list([.object(["name": .string("{{=<% %>=}}<%contact.name%>")])])
            context = .object(root)
        }
        #expect(try template.render(context) == "您好，\(hostile)！[{{=<% %>=}}<%contact.name%>]")
    }

    @Test func numbersPrintWithoutATrailingFraction() throws {
        let template = try PlainTextTemplate(source: "{{grade.frequency}} {{grade.clv}}", name: "t", shape: Self.shape)
        #expect(try template.render(Self.context()) == "3 1234.5")
    }

    @Test func aListSectionResolvesItemFieldsAndOuterNames() throws {
        let template = try PlainTextTemplate(source: "{{#tags}}{{name}}@{{contact.external_userid}};{{/tags}}", name: "t", shape: Self.shape)
        #expect(try template.render(Self.context()) == "VIP@wm1;护肤@wm1;")
    }

    @Test func anUnknownNameIsReportedAtItsLineAndColumnWithASuggestion() {
        let source = "您好\n  {{contact.nmae}}\n"
        #expect {
            try PlainTextTemplate(source: source, name: "t", shape: Self.shape)
        } throws: { error in
            guard let issues = (error as? TemplateIssues)?.issues, issues.count == 1 else { return false }
            return issues[0].line == 2 && issues[0].column == 3 && issues[0].message.contains("did you mean 'contact.name'")
        }
    }

    @Test func aListOrObjectUsedAsAValueAndPartialsAreRefused() {
        #expect(throws: TemplateIssues.self) { try PlainTextTemplate(source: "{{tags}}", name: "t", shape: Self.shape) }
        #expect(throws: TemplateIssues.self) { try PlainTextTemplate(source: "{{contact}}", name: "t", shape: Self.shape) }
        #expect(throws: TemplateIssues.self) { try PlainTextTemplate(source: "{{> footer}}", name: "t", shape: Self.shape) }
    }

    @Test func anUnclosedSectionIsReportedWhereItOpens() {
        #expect {
            try PlainTextTemplate(source: "a\nb {{#contact.name}}x", name: "t", shape: Self.shape)
        } throws: { error in
            guard let issue = (error as? TemplateIssues)?.issues.first else { return false }
            return issue.line == 2 && issue.column == 3
        }
    }

    @Test func aNullableNameOutsideASectionIsRequiredAndAnEmptyValueCountsAsMissing() throws {
        let template = try PlainTextTemplate(source: "{{contact.name}}您好", name: "t", shape: Self.shape)
        #expect(template.requiredNames == ["contact.name"])
        #expect(throws: TemplateRenderError.missingValue(name: "contact.name")) { try template.render(Self.context(name: .null)) }
        #expect(throws: TemplateRenderError.missingValue(name: "contact.name")) { try template.render(Self.context(name: .string(""))) }
    }

    @Test func aGuardedNullableNameMayBeAbsent() throws {
        let template = try PlainTextTemplate(source: "{{#contact.name}}{{contact.name}}，{{/contact.name}}您好", name: "t", shape: Self.shape)
        #expect(template.requiredNames.isEmpty)
        #expect(try template.render(Self.context(name: .null)) == "您好")
    }

    @Test func theByteLimitCountsUTF8BytesNotCharacters() throws {
        let template = try PlainTextTemplate(source: "{{contact.external_userid}}" + String(repeating: "好", count: 1_400), name: "t", shape: Self.shape)
        // 1,400 characters are 4,200 bytes in UTF-8: over the platform's 4,000.
        #expect(throws: TemplateRenderError.tooLong(bytes: 4_203, limit: 4_000)) { try template.render(Self.context()) }
    }

    @Test func delimiterChangesAreFollowedAndStillChecked() {
        #expect(throws: TemplateIssues.self) { try PlainTextTemplate(source: "{{=<% %>=}}<% contact.nope %>", name: "t", shape: Self.shape) }
        #expect(throws: Never.self) { try PlainTextTemplate(source: "{{! note }}{{=<% %>=}}<% grade.frequency %>", name: "t", shape: Self.shape) }
    }
}

/// Campaign messages render once per distinct set of values the template reads.
struct CampaignMessageRendererTests {
    static let shape = TemplateShape.campaignMessage(attributes: [])

    static func context(name: String?, staff: String) -> MessageContext {
        MessageContext(
            campaign: "c",
            candidate: CampaignCandidate(
                externalUserID: "wm" + (name ?? "x"), name: name, relations: [CandidateRelation(userID: staff)],
                grade: ContactGrade(externalUserID: "wm")),
            sender: CandidateRelation(userID: staff, staffName: staff.uppercased()))
    }

    @Test func rootsAreTheTopLevelNamesATemplateReads() throws {
        let template = try PlainTextTemplate(
            source: "{{#staff.name}}{{staff.name}}{{/staff.name}}{{#tags}}{{name}}{{/tags}}", name: "t", shape: Self.shape)
        #expect(template.roots == ["staff", "tags"])
    }

    @Test func equalValuesShareARenderAndDifferentValuesNever() throws {
        let byStaff = CampaignMessageRenderer(templates: [try PlainTextTemplate(source: "{{staff.name}}", name: "s", shape: Self.shape)])
        #expect(try byStaff.render(variant: 0, Self.context(name: "甲", staff: "u1")).get() == "U1")
        #expect(try byStaff.render(variant: 0, Self.context(name: "乙", staff: "u1")).get() == "U1")
        #expect(try byStaff.render(variant: 0, Self.context(name: "甲", staff: "u2")).get() == "U2")
        let byName = CampaignMessageRenderer(templates: [try PlainTextTemplate(source: "{{contact.name}}好", name: "n", shape: Self.shape)])
        #expect(try byName.render(variant: 0, Self.context(name: "甲", staff: "u1")).get() == "甲好")
        #expect(try byName.render(variant: 0, Self.context(name: "乙", staff: "u1")).get() == "乙好")
        #expect(throws: MessageRenderFailure.self) { try byName.render(variant: 0, Self.context(name: nil, staff: "u1")).get() }
    }
}
