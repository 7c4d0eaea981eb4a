/// One parsed CSV record.
public struct CSVRecord: Sendable, Hashable {
    /// The unescaped field values, in order.
    public var fields: [String]
    /// 1-based physical line on which the record starts. Lines inside quoted multi-line
    /// fields are counted, as are skipped empty lines.
    public var line: Int

    public init(fields: [String], line: Int) {
        self.fields = fields
        self.line = line
    }
}
