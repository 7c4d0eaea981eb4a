import CohortCore
import Foundation
import Synchronization

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
        self.init(context, only: nil)
    }

    /// The rendering context, with only the top-level names in `roots` (all when nil): what a
    /// template reads, and so what decides its text.
    public init(_ context: MessageContext, only roots: Set<String>?) {
        let candidate = context.candidate
        let grade = candidate.grade
        func text(_ value: String?) -> TemplateValue { value.map { .string($0) } ?? .null }
        func number<T: BinaryInteger>(_ value: T?) -> TemplateValue { value.map { .number(Double($0)) } ?? .null }
        func wanted(_ name: String) -> Bool { roots?.contains(name) ?? true }
        var object: [String: TemplateValue] = [:]
        if wanted("contact") {
            let gender = candidate.gender == 1 ? "male" : candidate.gender == 2 ? "female" : "unknown"
            let type = candidate.type == 2 ? "wecom" : candidate.type == 1 ? "wechat" : "unknown"
            object["contact"] = .object([
                "name": text(candidate.name), "external_userid": .string(candidate.externalUserID), "gender": .string(gender),
                "type": .string(type), "corp_name": text(candidate.corpName), "remark": text(context.sender.remark),
                "description": text(context.sender.description),
            ])
        }
        if wanted("staff") {
            object["staff"] = .object(["userid": .string(context.sender.userID), "name": text(context.sender.staffName)])
        }
        if wanted("grade") {
            object["grade"] = .object([
                "rfm": text(grade.segment), "r": number(grade.r), "f": number(grade.f), "m": number(grade.m), "abc": text(grade.abc),
                "clv": grade.clvCents.map { .number(Double($0) / 100) } ?? .null, "lifecycle": .string(grade.lifecycle.rawValue),
                "frequency": .number(Double(grade.frequency)), "monetary": .number(Double(grade.monetaryCents) / 100),
                "recency": number(grade.recencyDays),
            ])
        }
        if wanted("tags") {
            object["tags"] = .list(context.sender.tags.map { .object(["name": .string($0.name), "group": .string($0.group)]) })
        }
        if wanted("attributes") {
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
            object["attributes"] = .object(attributes)
        }
        if wanted("campaign") {
            object["campaign"] = .object(["name": .string(context.campaign)])
        }
        self = .object(object)
    }
}

/// Renders a campaign's variants for the planner. Messages whose template reads the same
/// values render once: most campaigns personalise by staff member or by a grade, so 100,000
/// recipients need a few hundred renders, not 100,000.
public struct CampaignMessageRenderer: MessageRenderer {
    public let templates: [PlainTextTemplate]
    private let cache = RenderCache()

    public init(templates: [PlainTextTemplate]) {
        self.templates = templates
    }

    public func render(variant: Int, _ context: MessageContext) -> Result<String, MessageRenderFailure> {
        let template = templates[variant]
        let value = TemplateValue(context, only: template.roots)
        if let cached = cache.lookup(variant, value) { return cached }
        let result: Result<String, MessageRenderFailure>
        do throws(TemplateRenderError) {
            result = .success(try template.render(value))
        } catch {
            switch error {
            case .missingValue: result = .failure(MessageRenderFailure(reason: .missingData, detail: "\(template.name): \(error)"))
            case .tooLong: result = .failure(MessageRenderFailure(reason: .tooLong, detail: "\(template.name): \(error)"))
            }
        }
        cache.store(variant, value, result)
        return result
    }
}

/// Rendered texts by (variant, the values the template reads), bounded so a template that
/// reads every contact's name cannot grow it without limit.
final class RenderCache: Sendable {
    private struct Key: Hashable {
        var variant: Int
        var value: TemplateValue
    }

    private static let capacity = 20_000
    private let entries = Mutex<[Key: Result<String, MessageRenderFailure>]>([:])

    func lookup(_ variant: Int, _ value: TemplateValue) -> Result<String, MessageRenderFailure>? {
        entries.withLock { $0[Key(variant: variant, value: value)] }
    }

    func store(_ variant: Int, _ value: TemplateValue, _ result: Result<String, MessageRenderFailure>) {
        entries.withLock { entries in
            guard entries.count < Self.capacity else { return }
            entries[Key(variant: variant, value: value)] = result
        }
    }
}
