import Foundation
import WeComKit

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Connects a `WeComClient` to a simulator in the same process: no sockets, same answers.
public struct SimulatorTransport: PlatformTransport {
    public let simulator: WeComSimulator

    public init(_ simulator: WeComSimulator) {
        self.simulator = simulator
    }

    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        guard let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false),
            let range = components.path.range(of: "/cgi-bin/")
        else {
            return TransportResponse(status: 404, body: Data())
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let response = await simulator.handle(
            SimulatorRequest(
                method: request.method, path: String(components.path[range.upperBound...]), query: query, body: request.body ?? Data()))
        if response.dropped { throw URLError(.networkConnectionLost) }
        return TransportResponse(status: response.status, body: response.body)
    }
}
