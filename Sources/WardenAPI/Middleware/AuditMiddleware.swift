import Foundation
public import Hummingbird
import Synchronization
public import WardenAudit
public import WardenCore

/// What one request's audit record says beyond the route and the status, filled in as the request passes
/// through: the principal (`BearerAuthMiddleware`), the reference id and code of a refusal
/// (`ProblemMiddleware`), a claimed name or a before/after summary (controllers).
public final class AuditNote: Sendable {
    public struct Fields: Sendable {
        public var principal: Principal?
        /// Who an unauthenticated request claimed to be (a sign-in's username, a client id) and its kind.
        public var claimedActor: String?
        public var claimedKind: Principal.Kind?
        /// The action's name when the route is not an API operation (portal pages name theirs).
        public var action: String?
        public var code: String?
        public var referenceID: String?
        public var details: [String: String] = [:]
        /// Set by routes whose reads are themselves sensitive (audit queries and exports).
        public var isSensitiveRead = false
    }

    private let fields = Mutex(Fields())

    public func set(_ body: (inout Fields) -> Void) {
        fields.withLock { body(&$0) }
    }

    var current: Fields { fields.withLock { $0 } }
}

extension APIRequestContext {
    /// Adds facts to this request's audit record (a before/after summary, what was created).
    public func auditDetail(_ name: String, _ value: String) {
        audit.set { $0.details[name] = value }
    }
}

/// Records admin actions, refusals and sensitive reads in the audit log.
///
/// Every state-changing request (not GET or HEAD) is recorded and its response waits for the record's
/// commit, so an answer means the record is on disk. Refused requests (401, 403) and sensitive reads are
/// recorded without waiting. The HTTPS device API is left to the device authentication records.
public struct AuditMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let log: AuditLog
    let clock: any WardenClock
    let routes: [String: String]

    /// `routes` maps "METHOD template" to the operation id that becomes the record's action.
    public init(log: AuditLog, clock: any WardenClock, routes: [APIRoute]) {
        self.log = log
        self.clock = clock
        self.routes = Dictionary(
            routes.map { ("\($0.method.rawValue) \($0.path)", $0.operationID) }, uniquingKeysWith: { first, _ in first }
        )
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let response = try await next(request, context)
        let path = request.uri.path
        // The device API is recorded by device authentication, DPS requests by their registration records;
        // revocation checks are public reads, even by POST.
        guard !path.hasPrefix("/devices/"), !path.hasPrefix("/pki/"),
            context.endpointPath?.hasPrefix(ProvisioningHTTPSController.base) != true
        else { return response }
        let note = context.audit.current
        let isChange = request.method != .get && request.method != .head
        let isDenied = response.status == .unauthorized || response.status == .forbidden
        guard isChange || isDenied || note.isSensitiveRead else { return response }
        let outcome: AuditRecord.Outcome =
            response.status.code < 400
            ? .success : (isDenied || response.status == .tooManyRequests ? .denied : .failure)
        var details = note.details
        details["http.method"] = request.method.rawValue
        details["http.status"] = "\(response.status.code)"
        let template = context.endpointPath.map { "\(request.method.rawValue) \($0)" }
        let record = AuditRecord(
            at: clock.nowMilliseconds(),
            tenant: context.parameters.get("tenant").flatMap { try? TenantID(APIRoute.decoded($0)) },
            actorKind: (note.principal?.kind ?? note.claimedKind)?.rawValue ?? "anonymous",
            // A claimed name is whatever the client sent (up to the body limit): the record keeps 128 characters.
            actor: note.principal?.name ?? note.claimedActor.map { String($0.prefix(128)) } ?? "-",
            sourceIP: context.peerAddress.description,
            action: note.action ?? template.flatMap { routes[$0] } ?? "\(request.method.rawValue.lowercased()) \(path)",
            target: path, outcome: outcome, reason: note.code, referenceID: note.referenceID, details: details)
        // A change that happened is answered once its record is stored; a refusal is not waited for (the
        // store may be the reason it was refused).
        if isChange, outcome == .success {
            await log.recordDurably(record)
        } else {
            log.record(record)
        }
        return response
    }
}
