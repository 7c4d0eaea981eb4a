import CohortConfig
import Foundation
import Logging
import Synchronization

/// Installs the process-wide log handler: text lines or one JSON object per line, on stderr.
public enum CohortLogging {
    private static let installed = Mutex(false)

    /// The first call installs the handler; later calls (commands run inside `cohort demo`)
    /// keep it, since swift-log allows one bootstrap per process.
    public static func bootstrap(_ settings: LoggingSettings) {
        let first = installed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let level = Logger.Level(rawValue: settings.level.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch settings.format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per log line: time, level, label, message and metadata, for log shippers.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue, "label": label,
            "message": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}
