import ArgumentParser
import CohortCore
import CohortServer
import CohortStore
import Foundation
import WeComKit

/// `cohort-bench ingest-parts`: the ingest path's stages measured apart, in-process, so a slow
/// end-to-end figure can be traced to its stage (crypto and XML, then the group-committed insert).
struct IngestPartsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-parts", abstract: "Per-stage ingest costs: open (verify, decrypt, parse) and inbox append.")

    @Option(help: "Events per stage.") var events = 50_000
    @Option(help: "Concurrent tasks.") var concurrency = 64

    func run() async throws {
        let crypto = try CallbackCrypto(token: "t", encodingAESKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", receiveID: "wwbench")
        let receiver = CallbackReceiver(crypto: crypto)
        var prepared: [(CallbackQuery, [UInt8])] = []
        for index in 0..<events {
            let xml = CallbackXML.render(CallbackFields([
                CallbackField("ToUserName", "wwbench"), CallbackField("FromUserName", "sys"), CallbackField("CreateTime", "1700000000"),
                CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"),
                CallbackField("ChangeType", "add_external_contact"), CallbackField("UserID", "u\(index % 100)"),
                CallbackField("ExternalUserID", "wm\(index)"),
            ]))
            let encrypt = crypto.encrypt(xml)
            let signature = crypto.signature(timestamp: "1", nonce: "\(index)", encrypt: encrypt)
            prepared.append((CallbackQuery(msgSignature: signature, timestamp: "1", nonce: "\(index)"),
                             Array(CallbackXML.envelope(toUserName: "wwbench", agentID: "1", encrypt: encrypt).utf8)))
        }
        let items = prepared
        let workers = concurrency

        // Single-threaded cost of each stage, in microseconds per event.
        func stage(_ body: (Int) throws -> Void) rethrows -> Double {
            let count = min(items.count, 20_000)
            let begin = Date()
            for index in 0..<count { try body(index) }
            return (Date().timeIntervalSince(begin) * 1e6 / Double(count) * 10).rounded() / 10
        }
        var envelopes: [CallbackEnvelope] = []
        let envelopeUS = try stage { envelopes.append(try CallbackXML.parseEnvelope(items[$0].1)) }
        let verifyUS = stage { _ = crypto.verify(msgSignature: items[$0].0.msgSignature!, timestamp: "1", nonce: "\($0)", encrypt: envelopes[$0].encrypt) }
        var xmls: [String] = []
        let decryptUS = try stage { xmls.append(try crypto.decrypt(envelopes[$0].encrypt)) }
        var parsed: [CallbackFields] = []
        let messageUS = try stage { parsed.append(try CallbackXML.parseMessage(xmls[$0])) }
        let keyUS = stage { _ = CallbackReceiver.dedupKey(parsed[$0]) }

        var started = Date()
        let opened = try await withThrowingTaskGroup(of: [OpenedCallback].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var out: [OpenedCallback] = []
                    for index in stride(from: worker, to: items.count, by: workers) {
                        out.append(try receiver.open(items[index].0, body: items[index].1))
                    }
                    return out
                }
            }
            var all: [OpenedCallback] = []
            for try await part in group { all += part }
            return all
        }
        let openSeconds = Date().timeIntervalSince(started)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-parts-\(UUID().uuidString)/db.sqlite").path
        let database = try CohortDatabase(path: path)
        let committer = SQLiteInboxCommitter(database: database)
        let entries = opened.map {
            NewInboxEvent(corpID: "wwbench", dedupKey: $0.dedupKey, receivedAt: Date(), rawXML: $0.xml, fields: $0.fields, status: .pending)
        }
        // The repository alone: batches of 100, one caller.
        let direct = SQLiteInboxRepository(database: try CohortDatabase(path: path + "-direct"))
        started = Date()
        for chunk in stride(from: 0, to: entries.count, by: 100) {
            _ = try await direct.append(Array(entries[chunk..<min(chunk + 100, entries.count)]))
        }
        let directSeconds = Date().timeIntervalSince(started)

        started = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    for index in stride(from: worker, to: entries.count, by: workers) { _ = try await committer.store(entries[index]) }
                }
            }
            try await group.waitForAll()
        }
        let appendSeconds = Date().timeIntervalSince(started)
        let commits = committer.statistics.commits
        print(jsonLine([
            "scenario": "ingest-parts", "events": events, "concurrency": concurrency,
            "open_per_s": (Double(events) / openSeconds).rounded(), "open_us_each_cpu": (openSeconds * 2e6 / Double(events)).rounded(),
            "append_per_s": (Double(events) / appendSeconds).rounded(), "append_commits": commits,
            "direct_append_batch100_per_s": (Double(events) / directSeconds).rounded(),
            "events_per_commit": (Double(events) / Double(max(commits, 1)) * 10).rounded() / 10,
            "us_envelope_xml": envelopeUS, "us_verify": verifyUS, "us_decrypt": decryptUS, "us_message_xml": messageUS,
            "us_dedup_key": keyUS,
        ]))
    }
}
