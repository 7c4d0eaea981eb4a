import ArgumentParser
import Foundation

/// Benchmarks, one JSON line per scenario on stdout (progress goes to stderr).
/// Build with `-c release`: debug figures mean nothing.
@main
struct CohortBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-bench", abstract: "Cohort benchmarks; each prints one JSON line.",
        subcommands: [
            IngestBenchmark.self, IngestPartsBenchmark.self, SyncBenchmark.self, GenerateBenchmarkData.self, GradingBenchmark.self,
            CampaignBenchmark.self, SoakBenchmark.self,
        ])
}

/// Writes a progress line to stderr so stdout stays one JSON line per scenario.
func progress(_ message: String) {
    FileHandle.standardError.write(Data(("cohort-bench: " + message + "\n").utf8))
}

/// CPU seconds (user + system) used so far by this process and by its waited-for children.
struct CPUTimes {
    var own: Double
    var children: Double

    static func now() -> CPUTimes {
        func seconds(_ who: Int32) -> Double {
            var usage = rusage()
            getrusage(who, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
                + Double(usage.ru_stime.tv_usec) / 1e6
        }
        return CPUTimes(own: seconds(RUSAGE_SELF.rawValue), children: seconds(RUSAGE_CHILDREN.rawValue))
    }
}

/// Peak resident memory of this process, in MiB.
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Resident memory of this process now, in MiB (Linux; 0 elsewhere).
func residentMiB() -> Double {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

/// Encodes one result line with keys in a stable order.
func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}
