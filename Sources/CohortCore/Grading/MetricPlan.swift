import Foundation

/// One number per contact the store computes in a single grouped pass over the interactions.
public struct AggregateColumn: Sendable, Hashable, CustomStringConvertible {
    public enum Measure: String, Sendable, Hashable {
        /// Interactions (0 when none).
        case count
        /// Sum of amounts in cents (0 when none).
        case sum
        /// Earliest occurred_at, or `AggregateColumn.none`.
        case first
        /// Latest occurred_at, or `AggregateColumn.none`.
        case last
    }

    /// What `first` and `last` hold when the contact has no such interaction.
    public static let none = Int64.min

    public var kind: String
    /// Only interactions at or after this unix second; nil for all of them.
    public var since: Int64?
    public var measure: Measure

    public init(kind: String, since: Int64?, measure: Measure) {
        self.kind = kind
        self.since = since
        self.measure = measure
    }

    public var description: String { "\(measure)(\(kind)\(since.map { " since \($0)" } ?? ""))" }
}

/// Turns the metric functions the rules use into aggregate columns, and column values back
/// into metric values. The first four columns are always there: RFM needs them.
public struct MetricPlan: Sendable {
    enum Recipe: Sendable {
        case count(Int)
        case money(Int)
        case average(sum: Int, count: Int)
        case daysSince(last: Int)
    }

    public static let rfmOrders = 0
    public static let rfmMonetary = 1
    public static let lastOrder = 2
    public static let firstOrder = 3

    public private(set) var columns: [AggregateColumn] = []
    private var recipes: [Recipe] = []
    public let asOf: Int64
    public let calendar: BusinessCalendar

    /// - Parameters:
    ///   - requests: the metric requests of every compiled rule, in registry slot order.
    ///   - rfmWindowDays: the RFM window, counted in business days up to `asOf`.
    public init(requests: [RuleMetricRequest], rfmWindowDays: Int, asOf: Int64, calendar: BusinessCalendar) {
        self.asOf = asOf
        self.calendar = calendar
        let rfmStart = calendar.windowStart(seconds: Int64(rfmWindowDays) * 86_400, asOf: asOf)
        _ = column(AggregateColumn(kind: "order", since: rfmStart, measure: .count))
        _ = column(AggregateColumn(kind: "order", since: rfmStart, measure: .sum))
        _ = column(AggregateColumn(kind: "order", since: nil, measure: .last))
        _ = column(AggregateColumn(kind: "order", since: nil, measure: .first))
        for request in requests {
            let since: Int64? =
                if case .duration(let seconds)? = request.arguments["within"] {
                    calendar.windowStart(seconds: Int64(seconds), asOf: asOf)
                } else {
                    nil
                }
            let kind: String =
                if case .string(let kind)? = request.arguments["kind"] { kind } else { "order" }
            switch request.name {
            case "orders", "count":
                recipes.append(.count(column(AggregateColumn(kind: kind, since: since, measure: .count))))
            case "monetary", "amount":
                recipes.append(.money(column(AggregateColumn(kind: kind, since: since, measure: .sum))))
            case "average_order":
                let sum = column(AggregateColumn(kind: kind, since: since, measure: .sum))
                let count = column(AggregateColumn(kind: kind, since: since, measure: .count))
                recipes.append(.average(sum: sum, count: count))
            case "days_since":
                recipes.append(.daysSince(last: column(AggregateColumn(kind: kind, since: nil, measure: .last))))
            default:
                preconditionFailure("metric \(request.name) is declared in GradingSchema but has no recipe")
            }
        }
    }

    private mutating func column(_ column: AggregateColumn) -> Int {
        if let index = columns.firstIndex(of: column) { return index }
        columns.append(column)
        return columns.count - 1
    }

    /// The value of metric `slot` for the contact whose columns start at `base`.
    @inline(__always)
    func value(slot: Int, columns: [Int64], base: Int) -> RuleValue {
        switch recipes[slot] {
        case .count(let column):
            return .number(Double(columns[base + column]))
        case .money(let column):
            return .number(Double(columns[base + column]) / 100)
        case .average(let sum, let count):
            return columns[base + count] == 0 ? .null : .number(Double(columns[base + sum]) / Double(columns[base + count]) / 100)
        case .daysSince(let last):
            let at = columns[base + last]
            return at == AggregateColumn.none ? .null : .number(Double(calendar.daysBetween(at, asOf)))
        }
    }
}

extension MetricPlan {
    /// The aggregate row of one contact computed from its interactions in memory: the same
    /// numbers the store's grouped query gives, for fixtures and tests.
    public func aggregate(_ interactions: [Interaction]) -> [Int64] {
        columns.map { column in
            let matching = interactions.filter { interaction in
                interaction.kind == column.kind && interaction.occurredAt <= asOf
                    && (column.since.map { interaction.occurredAt >= $0 } ?? true)
            }
            switch column.measure {
            case .count: return Int64(matching.count)
            case .sum: return matching.reduce(0) { $0 + ($1.amountCents ?? 0) }
            case .first: return matching.map(\.occurredAt).min() ?? AggregateColumn.none
            case .last: return matching.map(\.occurredAt).max() ?? AggregateColumn.none
            }
        }
    }
}
