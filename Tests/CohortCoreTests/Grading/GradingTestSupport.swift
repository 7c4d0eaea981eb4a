import CohortCore

/// SplitMix64: tiny, seedable and identical on every platform, so a failing property test can be
/// replayed from its seed.
struct GradingTestRNG {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound`; the modulo bias is irrelevant for test data.
    mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}

/// Shorthand for a contact with orders.
func gradingInput(_ id: String, days: Int = 10, orders: Int = 1, cents: Int64 = 1_000) -> RFMInput {
    RFMInput(externalUserID: id, recencyDays: days, frequency: orders, monetaryCents: cents)
}

/// A contact without orders in the window.
func gradingInputWithoutOrders(_ id: String) -> RFMInput {
    RFMInput(externalUserID: id, recencyDays: nil, frequency: 0, monetaryCents: 0)
}

/// A population with heavy ties on every dimension, some contacts without orders, and unique ids
/// chosen to stress the id order: shared 8-byte prefixes, NUL bytes, different lengths, the empty
/// id, and optionally non-ASCII scalars (but no combining marks, whose canonically equivalent
/// spellings would compare equal).
func gradingRandomPopulation(seed: UInt64, count: Int, nonASCII: Bool = false) -> [RFMInput] {
    var rng = GradingTestRNG(seed: seed)
    let prefixes = ["", "user-000", "user-00", "u"]
    var alphabet = ["\0", "\u{1}", "0", "9", "-", "a", "z", "~"]
    if nonASCII { alphabet += ["ü", "日", "\u{10FFFF}"] }
    var ids: [String] = []
    var seen = Set<String>()
    while ids.count < count {
        var id = prefixes[rng.below(prefixes.count)]
        for _ in 0..<rng.below(12) { id += alphabet[rng.below(alphabet.count)] }
        if seen.insert(id).inserted { ids.append(id) }
    }
    return ids.map { id in
        if rng.below(8) == 0 { return gradingInputWithoutOrders(id) }
        return gradingInput(
            id,
            days: rng.below(6) * 30,
            orders: 1 + rng.below(4),
            cents: Int64(rng.below(4) * 2_500))
    }
}
