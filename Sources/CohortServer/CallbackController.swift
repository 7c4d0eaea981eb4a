import CohortCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import WeComKit

/// The WeCom callback endpoint: URL verification (GET) and event delivery (POST).
///
/// A delivery is answered 200 with an empty body only after its event is durable in the inbox;
/// a retried delivery of the same event is answered 200 too and stored once.
struct CallbackController: Sendable {
    let receiver: CallbackReceiver
    let sink: any InboxSink
    let doorbell: Doorbell
    let maxBodyBytes: Int
    let now: @Sendable () -> Date
    /// Takes add events with a WelcomeCode the moment they are durable.
    var welcome: WelcomeLane?

    static let path = "/wecom/callback"

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path), use: verify)
        router.post(RouterPath(Self.path), use: receive)
    }

    func verify(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = CallbackQuery(rawQuery: request.uri.query ?? "")
        do {
            let echo = try receiver.verifyURL(query)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: echo)))
        } catch {
            return reject(error, context: context, method: "GET")
        }
    }

    func receive(_ request: Request, context: BasicRequestContext) async throws -> Response {
        // The first value only: `headers[name]` joins every value into a new string.
        if let length = request.headers.first(where: { $0.name == .contentLength }).flatMap({ Int($0.value) }),
            length > maxBodyBytes
        {
            return tooLarge(context: context)
        }
        let body: ByteBuffer
        do {
            var request = request
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return tooLarge(context: context)
        }
        let query = CallbackQuery(rawQuery: request.uri.query ?? "")
        let opened: OpenedCallback
        do {
            opened = try receiver.open(query, body: body.readableBytesView)
        } catch {
            return reject(error, context: context, method: "POST")
        }
        let event = opened.event
        let entry = NewInboxEvent(
            corpID: receiver.crypto.receiveID, dedupKey: opened.dedupKey, receivedAt: now(), rawXML: opened.xml,
            fields: opened.fields, status: event.isHandled ? .pending : .unhandled,
            note: { if case .unhandled(let reason) = event { return reason } else { return nil } }())
        let outcome = try await sink.store(entry)
        switch outcome {
        case .stored(let id):
            Self.count("stored")
            doorbell.ring()
            if let welcome, case .externalContact(let change) = event {
                welcome.submit(change, receivedAt: Int64(entry.receivedAt.timeIntervalSince1970))
            }
            context.logger.debug(
                "callback stored",
                metadata: ["inbox.id": "\(id)", "inbox.event": "\(entry.event ?? "")", "inbox.change_type": "\(entry.changeType ?? "")"])
        case .duplicate(let id):
            Self.count("duplicate")
            context.logger.info("callback duplicate absorbed", metadata: ["inbox.id": "\(id)"])
        }
        return Response(status: .ok)
    }

    private func reject(_ rejection: CallbackRejection, context: BasicRequestContext, method: String) -> Response {
        let status: HTTPResponse.Status
        switch rejection {
        case .unauthorized: status = .unauthorized
        case .badRequest: status = .badRequest
        }
        Self.count(status == .unauthorized ? "bad_signature" : "bad_request")
        // One line, the reason only: never the payload, the signature inputs or a secret.
        context.logger.notice(
            "callback rejected", metadata: ["status": "\(status.code)", "method": "\(method)", "reason": "\(rejection.reason)"])
        return Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: rejection.reason + "\n")))
    }

    /// Webhook requests by outcome; `duplicate` is a deduplicated retry.
    static func count(_ outcome: String) {
        Counter(label: "cohort_webhook_requests_total", dimensions: [("outcome", outcome)]).increment()
    }

    private func tooLarge(context: BasicRequestContext) -> Response {
        Self.count("too_large")
        context.logger.notice("callback rejected", metadata: ["status": "413", "reason": "body over \(maxBodyBytes) bytes"])
        return Response(status: .contentTooLarge)
    }
}

/// Answers 405 with `Allow` for methods a path does not serve. The router alone would say 404,
/// which tells a misconfigured caller the wrong thing.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let allowed: [String: [HTTPRequest.Method]]

    func handle(
        _ request: Request, context: BasicRequestContext,
        next: (Request, BasicRequestContext) async throws -> Response
    ) async throws -> Response {
        if let methods = allowed[request.uri.path], !methods.contains(request.method) {
            context.logger.notice("request rejected", metadata: ["status": "405", "method": "\(request.method)"])
            return Response(
                status: .methodNotAllowed,
                headers: [.allow: methods.map(\.rawValue).joined(separator: ", ")])
        }
        return try await next(request, context)
    }
}
