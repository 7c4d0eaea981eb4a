/// One parameter of a metric function such as `within` in `orders(within: 90d)`.
///
/// Metric arguments are always labelled and must be constants, because the caller
/// computes each distinct metric request once per contact before any rule runs.
public struct RuleMetricParameter: Sendable, Hashable {
    /// The argument label, e.g. `within` or `kind`.
    public var label: String
    /// `.string`, `.number` or `.duration`. Duration arguments must be positive.
    public var type: RuleType
    /// Whether the argument may be omitted (omitted `within` conventionally means "all time").
    public var required: Bool
    /// For string parameters: the only accepted values, e.g. the known interaction kinds.
    public var allowed: [String]?
    /// What the allowed values are called in diagnostics, e.g. "interaction kind";
    /// defaults to "value".
    public var allowedName: String?

    /// A parameter; optional unless `required`, any value unless `allowed` lists them.
    public init(label: String, type: RuleType, required: Bool = false, allowed: [String]? = nil, allowedName: String? = nil) {
        self.label = label
        self.type = type
        self.required = required
        self.allowed = allowed
        self.allowedName = allowedName
    }
}

/// A field a rule can read by name, e.g. `days_since_added`.
public struct RuleFieldDeclaration: Sendable, Hashable {
    /// The identifier rules use.
    public var name: String
    /// The type of the values supplied for it.
    public var type: RuleType
    /// Whether the caller may supply `.null` for it (e.g. `rfm` for contacts without a score).
    public var nullable: Bool
    /// One-line description for generated documentation.
    public var doc: String
    /// Index passed to ``RuleFacts/field(_:)``; fields are numbered in order of addition.
    public var slot: Int
}

/// A metric function a rule can call, e.g. `orders(within: 90d)`.
public struct RuleMetricDeclaration: Sendable, Hashable {
    /// The function name rules call.
    public var name: String
    /// Its labelled, constant-only parameters.
    public var parameters: [RuleMetricParameter]
    /// The type of the values supplied for each request.
    public var result: RuleType
    /// Whether the caller may supply `.null` for it (e.g. an average over no orders).
    public var nullable: Bool
    /// One-line description for generated documentation.
    public var doc: String

    /// A call that would type-check, used in "write orders(within: 90d)" hints.
    var example: String {
        let arguments = parameters.map { parameter -> String in
            let value: String
            switch parameter.type {
            case .duration: value = "90d"
            case .string: value = RuleValue.quote(parameter.allowed?.first ?? "…")
            default: value = "1"
            }
            return "\(parameter.label): \(value)"
        }
        return "\(name)(\(arguments.joined(separator: ", ")))"
    }
}

/// The names a rule may use: caller-defined fields and metrics plus the built-in functions.
///
/// Declaring names is a programming step, not user input, so invalid declarations
/// (bad identifiers, keywords, duplicates, clashes with built-ins) stop with a precondition failure.
public struct RuleSchema: Sendable {
    /// Fields in slot order.
    public private(set) var fields: [RuleFieldDeclaration] = []
    /// Metrics in order of addition.
    public private(set) var metrics: [RuleMetricDeclaration] = []
    private var fieldIndex: [String: Int] = [:]
    private var metricIndex: [String: Int] = [:]

    /// A schema containing only the built-in functions.
    public init() {}

    /// Declares a field and returns its slot (0, 1, 2, ... in order of addition).
    @discardableResult
    public mutating func addField(_ name: String, type: RuleType, nullable: Bool = false, doc: String = "") -> Int {
        checkNewName(name)
        precondition(type != .null && type != .list(.null), "field '\(name)' needs a concrete type")
        let slot = fields.count
        fields.append(RuleFieldDeclaration(name: name, type: type, nullable: nullable, doc: doc, slot: slot))
        fieldIndex[name] = slot
        return slot
    }

    /// Declares a metric function. Its requests get slots from a ``RuleMetricRegistry`` at compile time.
    public mutating func addMetric(_ name: String, parameters: [RuleMetricParameter], result: RuleType, nullable: Bool = false, doc: String = "") {
        checkNewName(name)
        precondition(result != .null, "metric '\(name)' needs a concrete result type")
        var labels = Set<String>()
        for parameter in parameters {
            precondition(labels.insert(parameter.label).inserted, "metric '\(name)' declares '\(parameter.label)' twice")
            precondition([.string, .number, .duration].contains(parameter.type),
                         "metric parameter '\(parameter.label)' must be a string, number or duration")
            precondition(parameter.allowed == nil || parameter.type == .string, "only string parameters can list allowed values")
        }
        metricIndex[name] = metrics.count
        metrics.append(RuleMetricDeclaration(name: name, parameters: parameters, result: result, nullable: nullable, doc: doc))
    }

    /// The field called `name`, if declared.
    public func field(named name: String) -> RuleFieldDeclaration? {
        fieldIndex[name].map { fields[$0] }
    }

    /// The metric called `name`, if declared.
    public func metric(named name: String) -> RuleMetricDeclaration? {
        metricIndex[name].map { metrics[$0] }
    }

    /// Usage lines of the built-in functions, e.g. `lower(text) -> string`, for generated documentation.
    public static var builtinFunctions: [String] {
        RuleBuiltin.allCases.map(\.signature)
    }

    /// Why `name` cannot be declared in this schema, or nil when it can.
    public func problem(declaring name: String) -> String? {
        if !RuleLexer.isIdentifier(name) { return "'\(name)' is not a valid rule identifier (letters, digits and _, not starting with a digit)" }
        if RuleLexer.keywords.keys.contains(name) { return "'\(name)' is a reserved word" }
        if RuleBuiltin(rawValue: name) != nil { return "'\(name)' is a built-in function" }
        if fieldIndex[name] != nil || metricIndex[name] != nil { return "'\(name)' is already a field or function of the rule language" }
        return nil
    }

    private func checkNewName(_ name: String) {
        if let problem = problem(declaring: name) { preconditionFailure(problem) }
    }
}

/// One distinct metric computation that a set of rules needs, e.g. `orders(within: 90d)`.
public struct RuleMetricRequest: Sendable, Hashable, CustomStringConvertible {
    /// The metric's name as declared in the schema.
    public var name: String
    /// The constant arguments by label. Omitted optional parameters are absent.
    /// Durations are stored in seconds, so `90d` and `2160h` are the same request.
    public var arguments: [String: RuleValue]

    /// A request; the compiler builds these from calls such as `orders(within: 90d)`.
    public init(name: String, arguments: [String: RuleValue] = [:]) {
        self.name = name
        self.arguments = arguments
    }

    /// The request as a rule would write it, labels sorted: `count(kind: "feedback", within: 30d)`.
    public var description: String {
        let arguments = arguments.keys.sorted().map { "\($0): \(self.arguments[$0]!)" }
        return "\(name)(\(arguments.joined(separator: ", ")))"
    }
}

/// Assigns one slot to each distinct ``RuleMetricRequest`` across every rule compiled with it,
/// so the caller computes each metric once per contact and serves it via ``RuleFacts/metric(_:)``.
public struct RuleMetricRegistry: Sendable {
    /// Every request seen so far; the index is the slot.
    public private(set) var requests: [RuleMetricRequest] = []
    private var slots: [RuleMetricRequest: Int] = [:]

    /// An empty registry; share one across all rules of a run.
    public init() {}

    /// The slot of `request`, if some compiled rule needs it.
    public func slot(of request: RuleMetricRequest) -> Int? {
        slots[request]
    }

    /// The slot of `request`, assigning the next free one if it is new.
    @discardableResult
    public mutating func slot(for request: RuleMetricRequest) -> Int {
        if let slot = slots[request] { return slot }
        let slot = requests.count
        requests.append(request)
        slots[request] = slot
        return slot
    }
}
