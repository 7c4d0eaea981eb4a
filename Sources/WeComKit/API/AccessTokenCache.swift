import CohortCore
import Foundation

/// The access token of one (corp, secret) pair, fetched once and shared (spec 1.2, 9.1).
///
/// Refreshes ahead of expiry; one refresh at a time (every caller waiting for a refresh gets its
/// result); a token reported invalid is dropped only if it is still the cached one, so a worker
/// holding a stale token cannot throw away a fresh one.
public actor AccessTokenCache {
    public struct Token: Sendable, Hashable {
        public var value: String
        public var expiresAt: Date
    }

    private let fetch: @Sendable () async throws -> (token: String, expiresIn: Int)
    /// Where instances sharing a database keep the token (nil: this process is the only one).
    private let shared: (store: any SharedTokenStore, key: String)?
    private let now: @Sendable () -> Date
    /// Seconds before expiry at which a token counts as expired.
    private let refreshAhead: Double
    private var token: Token?
    private var refresh: Task<Token, any Error>?
    /// How many times the platform was asked for a token.
    public private(set) var fetches = 0

    public init(
        refreshAhead: Double = 300, now: @escaping @Sendable () -> Date = { Date() },
        shared: (store: any SharedTokenStore, key: String)? = nil,
        fetch: @escaping @Sendable () async throws -> (token: String, expiresIn: Int)
    ) {
        self.refreshAhead = refreshAhead
        self.shared = shared
        self.now = now
        self.fetch = fetch
    }

    /// A token valid for at least `refreshAhead` seconds.
    public func current() async throws -> String {
        if let token, now().addingTimeInterval(refreshAhead) < token.expiresAt { return token.value }
        if let refresh { return try await refresh.value.value }
        let fetch = self.fetch
        let now = self.now
        let shared = self.shared
        let margin = refreshAhead
        let task = Task { () throws -> Token in
            if let shared {
                let (value, expiresAt) = try await shared.store.token(key: shared.key, now: now(), margin: margin, refresh: fetch)
                return Token(value: value, expiresAt: expiresAt)
            }
            let (value, expiresIn) = try await fetch()
            return Token(value: value, expiresAt: now().addingTimeInterval(Double(expiresIn)))
        }
        refresh = task
        fetches += 1
        do {
            let fresh = try await task.value
            token = fresh
            refresh = nil
            return fresh.value
        } catch {
            refresh = nil
            throw error
        }
    }

    /// Drops `failed` if it is still the cached token (compare-and-swap), here and in the shared
    /// store.
    public func invalidate(_ failed: String) async {
        if token?.value == failed { token = nil }
        if let shared { try? await shared.store.invalidate(key: shared.key, token: failed) }
    }
}
