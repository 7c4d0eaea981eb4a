import CohortCore
import Foundation

/// Every file that makes up a configuration, by name: the known files of the config directory
/// and `Templates/NAME` for every template. What is recorded when a config is applied, compared
/// by `cohort config plan` and written back by `cohort config rollback`.
public struct ConfigSet: Sendable, Hashable {
    public var files: [String: String]

    public init(files: [String: String]) {
        self.files = files
    }

    /// A content hash of every file, names included.
    public var version: String {
        GradingRules.version(of: files.keys.sorted().flatMap { [$0, files[$0]!] })
    }

    /// Reads the known config files and every `.mustache` template.
    public static func read(configDirectory: String, templatesDirectory: String) -> ConfigSet {
        var files: [String: String] = [:]
        for name in ConfigLoader.knownFiles {
            if let text = try? String(contentsOfFile: configDirectory + "/" + name, encoding: .utf8) { files[name] = text }
        }
        let templates = (try? FileManager.default.contentsOfDirectory(atPath: templatesDirectory)) ?? []
        for name in templates where name.hasSuffix(".mustache") {
            if let text = try? String(contentsOfFile: templatesDirectory + "/" + name, encoding: .utf8) { files["Templates/" + name] = text }
        }
        return ConfigSet(files: files)
    }

    /// Writes the set: config files into `configDirectory`, templates into `templatesDirectory`.
    /// Known config files the set lacks are removed (the defaults apply, as when it was recorded);
    /// templates are only added or replaced.
    public func write(configDirectory: String, templatesDirectory: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: configDirectory, withIntermediateDirectories: true)
        try manager.createDirectory(atPath: templatesDirectory, withIntermediateDirectories: true)
        for name in ConfigLoader.knownFiles where files[name] == nil {
            try? manager.removeItem(atPath: configDirectory + "/" + name)
        }
        for (name, text) in files {
            let path = name.hasPrefix("Templates/") ? templatesDirectory + "/" + name.dropFirst("Templates/".count) : configDirectory + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// What changed from `old`, one entry per file: `tags.yaml +3 -1`, `Templates/x.mustache new`.
    public func changes(from old: ConfigSet?) -> [String] {
        let before = old?.files ?? [:]
        var result: [String] = []
        for name in Set(files.keys).union(before.keys).sorted() {
            switch (before[name], files[name]) {
            case (nil, _?): result.append("\(name) new")
            case (_?, nil): result.append("\(name) removed")
            case (let a?, let b?) where a != b:
                let (added, removed) = Self.lineChanges(from: a, to: b)
                result.append("\(name) +\(added) -\(removed)")
            default: break
            }
        }
        return result
    }

    /// Lines added and removed, counted as multisets (order-insensitive: enough for a summary).
    static func lineChanges(from old: String, to new: String) -> (Int, Int) {
        var counts: [Substring: Int] = [:]
        for line in old.split(separator: "\n", omittingEmptySubsequences: false) { counts[line, default: 0] += 1 }
        var added = 0
        for line in new.split(separator: "\n", omittingEmptySubsequences: false) {
            if let count = counts[line], count > 0 { counts[line] = count - 1 } else { added += 1 }
        }
        return (added, counts.values.reduce(0, +))
    }
}
