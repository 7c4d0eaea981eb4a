import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Requests to reload the configuration: SIGHUP, `cohort config reload` (which sends SIGHUP),
/// and `POST /api/v1/config/reload`. `cohort serve` listens on `stream()` once per run of its
/// services and restarts them with the new files after they validate.
public final class ReloadSignal: Sendable {
    private let continuation = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let source = Mutex<SignalSourceBox?>(nil)

    public init() {}

    /// Asks the listener, if any, to reload. Returns false when nothing listens.
    @discardableResult
    public func request() -> Bool {
        continuation.withLock { continuation in
            guard let continuation else { return false }
            continuation.yield()
            return true
        }
    }

    /// A fresh stream of requests; the previous one ends.
    public func stream() -> AsyncStream<Void> {
        let (stream, next) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.withLock { current in
            current?.finish()
            current = next
        }
        return stream
    }

    /// Turns SIGHUP into reload requests (instead of ending the process).
    public func listenForSIGHUP() {
        signal(SIGHUP, SIG_IGN)
        let signalSource = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        signalSource.setEventHandler { [weak self] in self?.request() }
        signalSource.resume()
        let box = SignalSourceBox(signalSource)
        source.withLock { $0 = box }
    }
}

/// Keeps the SIGHUP source alive; it is only created and resumed, never touched again.
private final class SignalSourceBox: @unchecked Sendable {
    let source: any DispatchSourceSignal

    init(_ source: any DispatchSourceSignal) {
        self.source = source
    }
}
