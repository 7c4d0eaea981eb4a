import Foundation

/// The names rules can use, and how each metric function becomes aggregate columns the store
/// computes in one pass over the interactions.
public struct GradingSchema: Sendable {
    /// Fields every rule can read, in slot order. Relation fields follow them in `relation`.
    public enum Field: Int, CaseIterable, Sendable {
        case recency, frequency, monetary, averageOrder, daysSinceFirstOrder
        case r, f, m, rfm, abc, clv, lifecycle
        case gender, contactType, corpName, relations, daysSinceAdded
        // Relation-only fields.
        case staff, addWay, state
    }

    /// Where attributes start: after the contact fields in lifecycle rules, after the relation
    /// fields in tag rules.
    public static let contactAttributeBase = Field.staff.rawValue
    public static let relationAttributeBase = Field.allCases.count

    /// For lifecycle rules (per contact).
    public let contact: RuleSchema
    /// For tag rules (per relation): the contact's fields plus the relation's own.
    public let relation: RuleSchema
    public let kinds: [String]

    /// Why `name` cannot be a contact attribute (it is a field, function or word of the rule
    /// language, or not an identifier), or nil when it can.
    public static func attributeProblem(_ name: String) -> String? {
        GradingSchema(kinds: [], attributes: []).relation.problem(declaring: name)
    }

    public init(kinds: [String], attributes: [(name: String, type: RuleType)]) {
        self.kinds = kinds
        var schema = RuleSchema()
        func add(_ field: Field, _ name: String, _ type: RuleType, nullable: Bool, _ doc: String) {
            let slot = schema.addField(name, type: type, nullable: nullable, doc: doc)
            precondition(slot == field.rawValue, "field slots follow GradingSchema.Field")
        }
        add(.recency, "recency", .number, nullable: true, "days since the last order; null without orders")
        add(.frequency, "frequency", .number, nullable: false, "orders in the RFM window")
        add(.monetary, "rfm_monetary", .number, nullable: false, "order amounts in the RFM window, in currency units (monetary(within: …) for other windows)")
        add(.averageOrder, "rfm_average_order", .number, nullable: true, "rfm_monetary / frequency over the RFM window")
        add(.daysSinceFirstOrder, "days_since_first_order", .number, nullable: true, "days since the first order ever")
        add(.r, "r", .number, nullable: true, "RFM recency score 1-5; null without orders in the window")
        add(.f, "f", .number, nullable: true, "RFM frequency score 1-5")
        add(.m, "m", .number, nullable: true, "RFM monetary score 1-5")
        add(.rfm, "rfm", .string, nullable: true, "RFM segment name")
        add(.abc, "abc", .string, nullable: true, "ABC tier: A, B or C")
        add(.clv, "clv", .number, nullable: true, "customer lifetime value in currency units")
        add(.lifecycle, "lifecycle", .string, nullable: false, "potential, intent, customer, loyal or churned")
        add(.gender, "gender", .string, nullable: false, "male, female or unknown")
        add(.contactType, "contact_type", .string, nullable: false, "wechat or wecom")
        add(.corpName, "corp_name", .string, nullable: true, "the contact's company (WeCom users)")
        add(.relations, "relations", .number, nullable: false, "staff members the contact still has")
        add(.daysSinceAdded, "days_since_added", .number, nullable: true, "days since the staff member added the contact (per relation; the earliest for lifecycle rules)")
        let within = RuleMetricParameter(label: "within", type: .duration, required: false)
        let kind = RuleMetricParameter(label: "kind", type: .string, required: true, allowed: kinds)
        schema.addMetric("orders", parameters: [within], result: .number, nullable: false, doc: "orders in the window (all time without one)")
        schema.addMetric("monetary", parameters: [within], result: .number, nullable: false, doc: "order amounts in the window, in currency units")
        schema.addMetric("average_order", parameters: [within], result: .number, nullable: true, doc: "average order amount in the window")
        schema.addMetric("count", parameters: [kind, within], result: .number, nullable: false, doc: "interactions of a kind in the window")
        schema.addMetric("amount", parameters: [kind, within], result: .number, nullable: false, doc: "amounts of a kind in the window, in currency units")
        schema.addMetric("days_since", parameters: [kind], result: .number, nullable: true, doc: "days since the last interaction of a kind")
        // Attributes come after the fixed contact fields in the contact schema, and after the
        // relation fields in the relation schema; facts map both to the same storage.
        var contactSchema = schema
        var relationSchema = schema
        _ = relationSchema.addField("staff", type: .string, nullable: false, doc: "the staff member's userid")
        _ = relationSchema.addField("add_way", type: .number, nullable: true, doc: "how the staff member added the contact (platform code)")
        _ = relationSchema.addField("state", type: .string, nullable: true, doc: "the channel `state` of the add")
        // A name the language already has cannot be an attribute; the config loader reports it
        // (``attributeProblem(_:)``), and the schema leaves it out rather than trap.
        for attribute in attributes where relationSchema.problem(declaring: attribute.name) == nil {
            _ = contactSchema.addField(attribute.name, type: attribute.type, nullable: true, doc: "contact attribute")
            _ = relationSchema.addField(attribute.name, type: attribute.type, nullable: true, doc: "contact attribute")
        }
        contact = contactSchema
        relation = relationSchema
    }
}
