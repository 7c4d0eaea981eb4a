extension Array {
    /// Consecutive slices of at most `size` elements: how stores split large writes into
    /// transactions short enough that the webhook's commits never wait long.
    public func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
