import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request to the platform.
public struct TransportRequest: Sendable, Hashable {
    public var method: String
    public var url: URL
    public var body: Data?
    /// The body's media type; JSON when nil.
    public var contentType: String?

    public init(method: String, url: URL, body: Data? = nil, contentType: String? = nil) {
        self.method = method
        self.url = url
        self.body = body
        self.contentType = contentType
    }
}

/// The platform's HTTP answer.
public struct TransportResponse: Sendable, Hashable {
    public var status: Int
    public var body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }
}

/// Sends HTTP requests (port): URLSession in production, fakes in tests. Throws only when no
/// answer arrived (timeout, refused or dropped connection).
public protocol PlatformTransport: Sendable {
    func send(_ request: TransportRequest) async throws -> TransportResponse
}

/// Outbound HTTP through Foundation's URLSession (libcurl on Linux).
public struct URLSessionTransport: PlatformTransport {
    private let session: URLSession
    private let timeout: TimeInterval

    public init(timeout: TimeInterval = 15) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpCookieAcceptPolicy = .never
        self.session = URLSession(configuration: configuration)
        self.timeout = timeout
    }

    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        var urlRequest = URLRequest(url: request.url, timeoutInterval: timeout)
        urlRequest.httpMethod = request.method
        if let body = request.body {
            urlRequest.httpBody = body
            urlRequest.setValue(request.contentType ?? "application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        }
        let session = self.session
        return try await withCheckedThrowingContinuation { continuation in
            session.dataTask(with: urlRequest) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                    continuation.resume(returning: TransportResponse(status: status, body: data ?? Data()))
                }
            }.resume()
        }
    }
}
