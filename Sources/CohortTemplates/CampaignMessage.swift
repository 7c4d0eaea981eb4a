import CohortCore
import Foundation

extension TemplateShape {
    /// What a campaign or welcome message can say: the contact, the sending staff member and
    /// their relation, grades, tags on that relation, declared attributes, the campaign.
    public static func campaignMessage(attributes: [String]) -> TemplateShape {
        let value = TemplateShape.scalar(nullable: false)
        let optional = TemplateShape.scalar(nullable: true)
        return .object([
            "contact": .object([
                "name": optional, "external_userid": value, "gender": value, "type": value, "corp_name": optional,
                "remark": optional, "description": optional,
            ]),
            "staff": .object(["userid": value, "name": optional]),
            "grade": .object([
                "rfm": optional, "r": optional, "f": optional, "m": optional, "abc": optional, "clv": optional, "lifecycle": value,
                "frequency": value, "monetary": value, "recency": optional,
            ]),
            "tags": .list(item: .object(["name": value, "group": value])),
            "attributes": .object(Dictionary(uniqueKeysWithValues: attributes.map { ($0, optional) })),
            "campaign": .object(["name": value]),
        ])
    }
}

extension TemplateValue {
    /// The rendering context of one message.
    public init(_ context: MessageContext) {
        let candidate = context.candidate
        let grade = candidate.grade
        func text(_ value: String?) -> TemplateValue { value.map { .string($0) } ?? .null }
        func number<T: BinaryInteger>(_ value: T?) -> TemplateValue { value.map { .number(Double($0)) } ?? .null }
        let gender = candidate.gender == 1 ? "male" : candidate.gender == 2 ? "female" : "unknown"
        let type = candidate.type == 2 ? "wecom" : candidate.type == 1 ? "wechat" : "unknown"
        var attributes: [String: TemplateValue] = [:]
        for (name, value) in candidate.attributes {
            switch value {
            case .null: attributes[name] = .null
            case .bool(let flag): attributes[name] = .bool(flag)
            case .number(let number): attributes[name] = .number(number)
            case .string(let string): attributes[name] = .string(string)
            default: attributes[name] = .string("\(value)")
            }
        }
        self = .object([
            "contact": .object([
                "name": text(candidate.name), "external_userid": .string(candidate.externalUserID), "gender": .string(gender),
                "type": .string(type), "corp_name": text(candidate.corpName), "remark": text(context.sender.remark),
                "description": text(context.sender.description),
            ]),
            "staff": .object(["userid": .string(context.sender.userID), "name": text(context.sender.staffName)]),
            "grade": .object([
                "rfm": text(grade.segment), "r": number(grade.r), "f": number(grade.f), "m": number(grade.m), "abc": text(grade.abc),
                "clv": grade.clvCents.map { .number(Double($0) / 100) } ?? .null, "lifecycle": .string(grade.lifecycle.rawValue),
                "frequency": .number(Double(grade.frequency)), "monetary": .number(Double(grade.monetaryCents) / 100),
                "recency": number(grade.recencyDays),
            ]),
            "tags": .list(context.sender.tags.map { .object(["name": .string($0.name), "group": .string($0.group)]) }),
            "attributes": .object(attributes),
            "campaign": .object(["name": .string(context.campaign)]),
        ])
    }
}

/// Renders a campaign's variants for the planner.
public struct CampaignMessageRenderer: MessageRenderer {
    public let templates: [PlainTextTemplate]

    public init(templates: [PlainTextTemplate]) {
        self.templates = templates
    }

    public func render(variant: Int, _ context: MessageContext) -> Result<String, MessageRenderFailure> {
        do throws(TemplateRenderError) {
            return .success(try templates[variant].render(TemplateValue(context)))
        } catch {
            switch error {
            case .missingValue: return .failure(MessageRenderFailure(reason: .missingData, detail: "\(templates[variant].name): \(error)"))
            case .tooLong: return .failure(MessageRenderFailure(reason: .tooLong, detail: "\(templates[variant].name): \(error)"))
            }
        }
    }
}
