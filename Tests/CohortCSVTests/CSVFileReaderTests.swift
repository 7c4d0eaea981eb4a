import CohortCSV
import Foundation
import Testing

@Suite struct FileReading {
    func withTempFile(_ bytes: [UInt8], _ body: (String) throws -> Void) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csvread-\(UUID().uuidString).csv")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        try body(url.path)
    }

    @Test(arguments: [1, 7, 64, 1 << 20])
    func readsFileInChunks(chunkSize: Int) throws {
        try withTempFile(ChunkBoundaries.sample) { path in
            var reader = try CSVFileReader(path: path, chunkSize: chunkSize)
            #expect(reader.totalBytes == Int64(ChunkBoundaries.sample.count))
            #expect(reader.bytesRead == 0)
            var rows: [CSVRecordParser.Element] = []
            while let row = try reader.next() {
                rows.append(row)
                #expect(reader.bytesRead <= reader.totalBytes!)
            }
            #expect(rows == ChunkBoundaries.expected)
            #expect(reader.bytesRead == reader.totalBytes)
            #expect(reader.fractionCompleted == 1)
            #expect(try reader.next() == nil)
        }
    }

    @Test func largerFileMatchesParser() throws {
        var bytes: [UInt8] = []
        for i in 0..<20_000 {
            bytes += Array("\(i),\"q \(i % 7)\"\"x\",\(Double(i) / 4),中\(i % 3)\n".utf8)
        }
        try withTempFile(bytes) { path in
            var reader = try CSVFileReader(path: path, separator: UInt8(ascii: ","), chunkSize: 4096)
            var count = 0
            while let row = try reader.next() {
                let record = try row.get()
                #expect(record.line == count + 1)
                #expect(record.fields == ["\(count)", "q \(count % 7)\"x", "\(Double(count) / 4)", "中\(count % 3)"])
                count += 1
            }
            #expect(count == 20_000)
        }
    }

    @Test func unterminatedQuoteThrowsAtEnd() throws {
        try withTempFile(Array("a\n\"b\n".utf8)) { path in
            var reader = try CSVFileReader(path: path)
            #expect(try reader.next() == .success(CSVRecord(fields: ["a"], line: 1)))
            #expect(throws: CSVError.unterminatedQuote(line: 2)) { try reader.next() }
        }
    }

    @Test func missingFile() {
        let error = #expect(throws: CSVError.self) {
            _ = try CSVFileReader(path: "/nonexistent/definitely/missing.csv")
        }
        guard case .io(let path, let message)? = error else {
            Issue.record("expected an io error, got \(String(describing: error))")
            return
        }
        #expect(path == "/nonexistent/definitely/missing.csv")
        #expect(message.contains("No such file"))
    }
}
