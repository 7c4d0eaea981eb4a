/// Cents as currency units with two decimals (`-3.05`), for exports and explanations: no
/// floating point, so the text always equals the stored amount.
public func formatCents(_ cents: Int64) -> String {
    let sign = cents < 0 ? "-" : ""
    let value = cents.magnitude
    let fraction = value % 100
    return "\(sign)\(value / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
