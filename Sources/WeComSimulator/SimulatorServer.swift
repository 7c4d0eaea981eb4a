import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The simulator over HTTP: the platform API under `/cgi-bin/`, and under `/sim/` the
/// controls tests and operators use (faults, console actions) and the inspection log.
public enum SimulatorServer {
    struct Dropped: Error {}

    public static func router(_ simulator: WeComSimulator) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        @Sendable func api(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
            let body = try await request.body.collect(upTo: 32 << 20)
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            let path = String(request.uri.path.dropFirst("/cgi-bin/".count))
            let answer = await simulator.handle(
                SimulatorRequest(method: request.method.rawValue, path: path, query: query, body: Data(body.readableBytesView)))
            if answer.dropped {
                // Headers go out, then the connection breaks: the client gets no usable answer.
                return Response(status: .ok, body: ResponseBody { _ in throw Dropped() })
            }
            var headers = HTTPFields()
            headers[.contentType] = answer.status == 200 ? "application/json; charset=UTF-8" : "text/html"
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        router.get("/cgi-bin/**", use: api)
        router.post("/cgi-bin/**", use: api)

        router.get("/sim/inspect") { _, _ -> Response in
            json(await Inspection(simulator))
        }
        router.post("/sim/faults") { request, context -> Response in
            let fault = try await request.decode(as: SimulatorFault.self, context: context)
            await simulator.addFault(fault)
            return json(["ok": true])
        }
        router.delete("/sim/faults") { _, _ -> Response in
            await simulator.clearFaults()
            return json(["ok": true])
        }
        router.post("/sim/actions") { request, context -> Response in
            let action = try await request.decode(as: ConsoleAction.self, context: context)
            do throws(ConsoleActionError) {
                return json(try await simulator.perform(action))
            } catch {
                var response = json(["error": error.description])
                response.status = .badRequest
                return response
            }
        }
        return router
    }

    static func json(_ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// What the simulator saw and did, for tests: calls received, tags written, messages created
/// and callbacks sent.
public struct Inspection: Codable, Sendable {
    public struct Task: Codable, Sendable {
        public var msgid: String
        public var create_time: Int64
        public var text: String?
        public var senders: [String: [String]]
    }

    public var call_counts: [String: Int]
    public var calls: [SimulatorCall]
    public var tag_writes: [SimulatorTagWrite]
    public var tasks: [Task]
    public var callbacks: [SimulatorCallbackDelivery]
    public var welcomes: [SimWelcomeMessage]

    public init(_ simulator: WeComSimulator) async {
        call_counts = await simulator.callCounts()
        calls = Array(await simulator.calls.suffix(1000))
        tag_writes = await simulator.tagWrites
        tasks = await simulator.createdTasks().map { task in
            Task(
                msgid: task.msgid, create_time: task.createTime, text: task.text,
                senders: Dictionary(uniqueKeysWithValues: task.parts.map { ($0.userid, $0.recipients) }))
        }
        callbacks = await simulator.callbacks
        welcomes = await simulator.welcomes
    }
}
