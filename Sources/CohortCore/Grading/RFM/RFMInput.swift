/// One contact's order activity over the RFM window, as handed to the grader.
///
/// A contact is *gradable* (see ``isGradable``) when it has at least one order in the window.
/// Every other contact gets no RFM score, no ABC class and no CLV, and does not count in the
/// population size `n` of the quantile ranking.
public struct RFMInput: Sendable, Hashable, Codable {
    /// The contact's stable id; it breaks every tie in every ranking (see ``RFMDimension``).
    public var externalUserID: String
    /// Days since the contact's last order in the window; `nil` when it has none.
    public var recencyDays: Int?
    /// Number of orders in the window.
    public var frequency: Int
    /// Revenue of the contact's orders in the window, in cents.
    public var monetaryCents: Int64

    /// Creates the window figures of one contact.
    public init(externalUserID: String, recencyDays: Int?, frequency: Int, monetaryCents: Int64) {
        self.externalUserID = externalUserID
        self.recencyDays = recencyDays
        self.frequency = frequency
        self.monetaryCents = monetaryCents
    }

    /// Whether the contact takes part in grading: `frequency > 0` and a known `recencyDays`.
    ///
    /// A positive frequency without a last-order age is inconsistent input; it is treated like a
    /// contact without orders rather than guessed at, so it never shifts anyone else's quantile.
    public var isGradable: Bool {
        frequency > 0 && recencyDays != nil
    }
}

/// The three RFM dimensions, and the order each one ranks contacts in.
///
/// Every ranking is ascending by a *ranking key* `(value, externalUserID)`; the higher a contact
/// ranks, the higher its score:
/// - ``recency``: value is days since the last order, compared in *descending* order, so the most
///   recent buyer ranks highest.
/// - ``frequency``: number of orders, ascending.
/// - ``monetary``: revenue in cents, ascending.
///
/// Ties on the value are broken by `externalUserID` ascending using Swift's `String` `<`, which
/// orders by Unicode scalar values (of the NFC form). The ids are ASCII in practice, where this is
/// plain byte order — the same as `sort` under `LC_ALL=C` or SQL `COLLATE "C"`, which is what other
/// tools must use to reproduce the scores. Among contacts with an equal value the smaller id
/// therefore gets the lower (or equal) score.
public enum RFMDimension: String, Sendable, Hashable, Codable, CaseIterable {
    case recency
    case frequency
    case monetary
}

/// The 1...5 scores of one gradable contact.
public struct RFMScores: Sendable, Hashable, Codable {
    /// Recency score, 5 = most recent.
    public var r: Int
    /// Frequency score, 5 = most orders.
    public var f: Int
    /// Monetary score, 5 = most revenue.
    public var m: Int

    /// Creates a score triple.
    public init(r: Int, f: Int, m: Int) {
        self.r = r
        self.f = f
        self.m = m
    }

    /// The combined frequency/monetary score `(f + m) / 2`, which may end in `.5`.
    public var fm: Double {
        Double(f + m) / 2
    }
}

extension RFMDimension {
    /// The raw figure this dimension ranks by, or `nil` for a contact that is not gradable.
    func metric(of input: RFMInput) -> Int64? {
        guard input.isGradable, let days = input.recencyDays else { return nil }
        switch self {
        case .recency: return Int64(days)
        case .frequency: return Int64(input.frequency)
        case .monetary: return input.monetaryCents
        }
    }

    /// Maps a metric so that plain ascending integer order is this dimension's ranking order.
    ///
    /// Recency flips with bitwise NOT rather than negation because `-Int64.min` traps, and `~`
    /// reverses the order of every Int64 without exception.
    func sortValue(_ metric: Int64) -> Int64 {
        self == .recency ? ~metric : metric
    }

    /// Whether ranking key `a` ranks strictly below ranking key `b`.
    func ranksBelow(_ aMetric: Int64, _ aID: String, _ bMetric: Int64, _ bID: String) -> Bool {
        let a = sortValue(aMetric)
        let b = sortValue(bMetric)
        return a != b ? a < b : aID < bID
    }
}

/// The gradable part of an input list, with the id order every ranking shares.
///
/// Ranking by `(value, id)` with string comparisons three or four times over a million contacts
/// is the dominant cost, so the ids are sorted once and each later sort compares integers only.
struct RFMPopulation {
    /// Input indices of the gradable contacts in input order; a position in here is a *slot*.
    let inputIndex: [Int]
    /// Slots in ascending id order: `slotByIDRank[rank] == slot`.
    let slotByIDRank: [Int]
    /// Inverse of `slotByIDRank`: `idRank[slot] == rank`.
    let idRank: [Int]

    var count: Int { inputIndex.count }

    init(_ inputs: [RFMInput]) {
        var gradable: [Int] = []
        gradable.reserveCapacity(inputs.count)
        for index in inputs.indices where inputs[index].isGradable {
            gradable.append(index)
        }
        let ids = gradable.map { inputs[$0].externalUserID }
        // String comparison dominates the cost of grading, so ids are first compared by their
        // first 16 UTF-8 bytes as two integers (ids often share a prefix like "user-000"). That
        // agrees with String `<` only when every id is ASCII (then `<` is plain byte order); one
        // non-ASCII id turns the shortcut off for all.
        let allASCII = ids.allSatisfy { id in id.utf8.allSatisfy { $0 < 0x80 } }
        var entries = [RFMIDEntry]()
        entries.reserveCapacity(ids.count)
        for slot in ids.indices {
            let (high, low) = allASCII ? Self.asciiPrefix(ids[slot]) : (0, 0)
            entries.append(RFMIDEntry(high: high, low: low, slot: slot))
        }
        entries.sort { lhs, rhs in
            if lhs.high != rhs.high { return lhs.high < rhs.high }
            if lhs.low != rhs.low { return lhs.low < rhs.low }
            let l = ids[lhs.slot]
            let r = ids[rhs.slot]
            // Duplicate ids fall back to input order so that the result never depends on the sort
            // algorithm; callers are expected to pass unique ids.
            return l < r || (!(r < l) && lhs.slot < rhs.slot)
        }
        let order = entries.map(\.slot)
        var rank = [Int](repeating: 0, count: order.count)
        for (position, slot) in order.enumerated() {
            rank[slot] = position
        }
        inputIndex = gradable
        slotByIDRank = order
        idRank = rank
    }

    /// The first 16 bytes of `id`, big-endian, zero-padded, as two words. Padding cannot
    /// misorder: a shorter id differs from a longer one only where the longer has a non-zero
    /// byte, and where it has a zero byte the keys tie and the full comparison decides.
    static func asciiPrefix(_ id: String) -> (high: UInt64, low: UInt64) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var length = 0
        for byte in id.utf8.prefix(16) {
            if length < 8 {
                high |= UInt64(byte) << (8 * (7 - length))
            } else {
                low |= UInt64(byte) << (8 * (15 - length))
            }
            length += 1
        }
        return (high, low)
    }

    /// Slots in ascending order of `(sortValues[slot], id)`.
    func rankedSlots(bySortValue sortValues: [Int64]) -> [Int] {
        var entries = [RFMRankEntry]()
        entries.reserveCapacity(count)
        for slot in 0..<count {
            entries.append(RFMRankEntry(sortValue: sortValues[slot], idRank: idRank[slot]))
        }
        entries.sort { lhs, rhs in
            lhs.sortValue != rhs.sortValue ? lhs.sortValue < rhs.sortValue : lhs.idRank < rhs.idRank
        }
        return entries.map { slotByIDRank[$0.idRank] }
    }
}

/// An id's sort prefix and slot, see ``RFMPopulation/asciiPrefix(_:)``.
struct RFMIDEntry {
    var high: UInt64
    var low: UInt64
    var slot: Int
}

/// A ranking key with the id replaced by its rank, so sorting compares integers only; the id rank
/// is unique per slot and doubles as the way back to the slot.
struct RFMRankEntry {
    var sortValue: Int64
    var idRank: Int
}
