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
            return RedactingLogHandler(handler)
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

/// Masks phone numbers in every message and metadata value before the real handler sees them:
/// names and phones are kept out of log calls by design, and this catches one that slips in
/// through an error text (an import row, a platform answer).
public struct RedactingLogHandler: LogHandler {
    private var inner: any LogHandler

    public init(_ inner: any LogHandler) {
        self.inner = inner
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: LogRedaction.redact("\(event.message)"))
        event.metadata = event.metadata?.mapValues { .string(LogRedaction.redact("\($0)")) }
        inner.log(event: event)
    }
}

/// Phone-number masking for log text.
public enum LogRedaction {
    /// Every run of 11 digits starting with 1 (a mainland mobile), with or without +86, becomes
    /// `138****8000`; other numbers (ids, counts, errcodes) stay.
    public static func redact(_ text: String) -> String {
        var result = ""
        var digits = ""
        func flush() {
            if digits.count == 11, digits.first == "1" {
                result += String(digits.prefix(3)) + "****" + String(digits.suffix(4))
            } else if digits.count == 13, digits.hasPrefix("861") {
                result += "86" + String(digits.dropFirst(2).prefix(3)) + "****" + String(digits.suffix(4))
            } else {
                result += digits
            }
            digits = ""
        }
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else {
                flush()
                result.append(character)
            }
        }
        flush()
        return result
    }
}
