// libFuzzer target: the operator's configuration as `cohort config check` reads it (Yams and its
// C parser, the typed readers, rule compilation, segments, campaigns and their templates). The
// first byte of an input picks the file it replaces (cohort, grading, tags, segments, campaigns);
// the others stay as shipped, so a mutation reaches the code behind a valid rest of the config.
// Built by scripts/fuzz.sh, not by SwiftPM.
import CohortConfig
import Foundation

private let workspace: String = {
    let root = projectRoot
    let work = NSTemporaryDirectory() + "cohort-fuzz-config-\(getpid())"
    try? FileManager.default.removeItem(atPath: work)
    try! FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    for folder in ["Config", "Templates"] {
        try! FileManager.default.copyItem(atPath: root + "/" + folder, toPath: work + "/" + folder)
    }
    return work
}()

private let projectRoot = ProcessInfo.processInfo.environment["FUZZ_PROJECT_ROOT"] ?? "."

/// Copies the workspace and loads the config once before libFuzzer starts counting
/// allocations, so lazily built globals are not taken for a leak of the first input.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    _ = ConfigLoader(directory: workspace + "/Config", environment: ["COHORT_TEMPLATES_DIR": workspace + "/Templates"]).check()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let name = ConfigLoader.knownFiles[Int(bytes[0]) % ConfigLoader.knownFiles.count]
    let file = workspace + "/Config/" + name
    _ = FileManager.default.createFile(atPath: file, contents: Data(bytes.dropFirst()))
    // The shipped file comes back from the project, not from a global Data: LeakSanitizer cannot
    // follow Swift's tagged pointers to a buffer held in a global and reports it at exit.
    defer { _ = FileManager.default.createFile(atPath: file, contents: FileManager.default.contents(atPath: projectRoot + "/Config/" + name)) }
    let loader = ConfigLoader(directory: workspace + "/Config", environment: ["COHORT_TEMPLATES_DIR": workspace + "/Templates"])
    _ = loader.check()
    return 0
}
