#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Streams the records of a CSV file in constant memory, reading it in fixed-size chunks.
///
/// ```swift
/// var reader = try CSVFileReader(path: path)
/// while let result = try reader.next() {
///     switch result {
///     case .success(let record): use(record.fields)
///     case .failure(let error): report(error)   // e.g. "line 17: field 3 contains a quote ..."
///     }
///     progress = reader.fractionCompleted
/// }
/// ```
///
/// `next()` throws only fatal errors (I/O, unterminated quote at end of file); per-record
/// problems come back as `.failure` and reading continues with the next record.
/// The file descriptor is closed when the reader is destroyed.
public struct CSVFileReader: ~Copyable, Sendable {
    /// Path of the file being read.
    public let path: String
    /// Size of the file in bytes, or `nil` if it is not a regular file (pipe, device).
    public let totalBytes: Int64?
    /// Number of bytes read from the file so far.
    public private(set) var bytesRead: Int64 = 0

    private let fd: Int32
    private var parser: CSVRecordParser
    private var chunk: [UInt8]
    private var pending: [CSVRecordParser.Element] = []  // reversed: next record is last
    private var chunkFill = 0     // valid bytes in `chunk`
    private var chunkOffset = 0   // bytes of `chunk` already parsed
    private var atEOF = false

    /// Bytes handed to the parser at a time: keeps the batch of pending records small and
    /// cache-resident regardless of `chunkSize`.
    private static let parseSlice = 64 << 10

    /// Opens `path` for reading.
    /// - Parameters:
    ///   - separator: field separator byte (ASCII, not `"`, CR or LF).
    ///   - chunkSize: bytes read per `read(2)` call (default 1 MiB).
    public init(path: String, separator: UInt8 = UInt8(ascii: ","), chunkSize: Int = 1 << 20) throws(CSVError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: Self.errnoMessage()) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) {
            totalBytes = Int64(st.st_size)
        } else {
            totalBytes = nil
        }
        self.fd = fd
        self.path = path
        self.parser = CSVRecordParser(separator: separator)
        self.chunk = [UInt8](repeating: 0, count: max(chunkSize, 1))
    }

    deinit {
        _ = close(fd)
    }

    /// `bytesRead / totalBytes`, or `nil` if the size is unknown.
    public var fractionCompleted: Double? {
        guard let totalBytes else { return nil }
        return totalBytes == 0 ? 1 : min(1, Double(bytesRead) / Double(totalBytes))
    }

    /// Returns the next record (or per-record error), or `nil` at end of file.
    /// - Throws: ``CSVError/io(path:message:)`` on read errors,
    ///   ``CSVError/unterminatedQuote(line:)`` if the file ends inside a quoted field.
    public mutating func next() throws(CSVError) -> CSVRecordParser.Element? {
        while true {
            if let next = pending.popLast() { return next }
            if atEOF { return nil }
            if chunkOffset == chunkFill {
                chunkOffset = 0
                chunkFill = try readChunk()
                if chunkFill == 0 {
                    atEOF = true
                    pending = try parser.finish()
                    pending.reverse()
                    continue
                }
                bytesRead += Int64(chunkFill)
            }
            let start = chunkOffset
            let end = min(chunkFill, start + Self.parseSlice)
            chunkOffset = end
            chunk.withUnsafeBytes { buf in
                parser.feed(UnsafeRawBufferPointer(rebasing: buf[start..<end]), into: &pending)
            }
            pending.reverse()
        }
    }

    private mutating func readChunk() throws(CSVError) -> Int {
        let fd = self.fd
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw .io(path: path, message: Self.errnoMessage())
        }
    }

    private static func errnoMessage() -> String {
        String(cString: strerror(errno))
    }
}
