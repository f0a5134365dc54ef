public import Foundation
public import Logging
import NIOCore
import Synchronization
public import WardenCore
public import WardenHub
public import WardenNATS

/// Direct methods on a device connected to another node (docs/architecture.md, "Several nodes"): the node the
/// call arrives at asks every other node (`warden.methods`); each answers for itself — the device is not here,
/// or the device's answer (or error) — to the asking node's reply subject. The first real answer is the call's;
/// when every other live node said the device is not there, it is offline (404) at once; nothing within the
/// timeout and a second is `method.timeout`.
public final class ClusterMethods: MethodRelay {
    struct Request: Codable {
        let origin: UUID
        let id: UInt64
        let tenant: String
        let device: String
        let name: String
        let payload: Data
        let milliseconds: Int64
    }

    struct Answer: Codable {
        let id: UInt64
        var isAbsent = false
        /// The node has too many calls waiting to look: neither an answer nor "not here".
        var isBusy = false
        var status: Int?
        var payload: Data?
        var code: String?
        var reason: String?
    }

    private let node: UUID
    private let nats: NATSClient
    private let methods: MethodService
    private let otherNodes: @Sendable () -> Int
    private let recount: @Sendable () async -> Int
    private let logger: Logger
    private let pending = PendingReplies<MethodService.Response?>()
    /// Calls answered for other nodes at once; past it a node says the device is not here rather than queue.
    static let maximumServed = 1_000
    private let served = Atomic(0)

    /// `otherNodes` counts the other live nodes as last known (their answers end an offline device's call early);
    /// `recount` counts them afresh from the store, before a call is taken for offline: a node that started since
    /// the last count may hold the device.
    public init(
        node: UUID, nats: NATSClient, methods: MethodService, otherNodes: @escaping @Sendable () -> Int,
        recount: @escaping @Sendable () async -> Int, logger: Logger
    ) {
        self.node = node
        self.nats = nats
        self.methods = methods
        self.otherNodes = otherNodes
        self.recount = recount
        self.logger = logger
    }

    private var replies: String { "warden.replies.\(node.uuidString)" }

    /// Answers other nodes' calls and takes the answers to this node's.
    public func start() {
        nats.subscribe("warden.methods") { [weak self] message in self?.serve(message) }
        nats.subscribe(replies) { [weak self] message in self?.take(message) }
        methods.install(relay: self)
    }

    public func invoke(
        _ name: String, payload: [UInt8], on deviceID: DeviceID, in tenantID: TenantID, timeout: Duration
    ) async throws -> MethodService.Response? {
        let milliseconds = timeout.components.seconds &* 1000 &+ timeout.components.attoseconds / 1_000_000_000_000_000
        // Asked even when no other node is known yet (one that started in the last seconds is not counted); with
        // none known, silence for two seconds means nobody has the device. When every other node said the device
        // is not there, it is offline.
        let expected = otherNodes()
        return try await pending.request(
            timeout: expected == 0 ? min(timeout, .seconds(2)) : timeout + .seconds(1), expectedPartials: expected,
            unsent: .success(nil),
            expired: {
                expected == 0
                    ? .success(nil)
                    : .failure(
                        WardenError(.methodTimeout, "Device '\(deviceID)' did not answer '\(name)' within \(timeout)."))
            },
            send: { id in
                let request = Request(
                    origin: node, id: id, tenant: tenantID.rawValue, device: deviceID.rawValue, name: name,
                    payload: Data(payload), milliseconds: milliseconds)
                guard let json = try? JSONEncoder().encode(request) else { return false }
                return nats.publish("warden.methods", payload: ByteBuffer(bytes: json), replyTo: replies)
            })
    }

    /// Another node's answer to one of this node's calls.
    private func take(_ message: NATSMessage) {
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(message.payload.readableBytesView)) else {
            return
        }
        if answer.isBusy { return }  // the device's own node may still answer; else the call times out
        if answer.isAbsent {
            guard pending.partialAnswer(answer.id) else { return }
            Task { [pending, recount] in
                if pending.expectPartials(answer.id, atLeast: await recount()) {
                    pending.finish(answer.id, .success(nil))
                }
            }
        } else if let status = answer.status {
            pending.finish(
                answer.id, .success(MethodService.Response(status: status, payload: Array(answer.payload ?? Data()))))
        } else {
            let code = WardenError.Code.all.first { $0.name == answer.code } ?? .methodInvalidResponse
            pending.finish(
                answer.id, .failure(WardenError(code, answer.reason ?? "The device's node reported an error.")))
        }
    }

    /// Another node's call: this node answers for the devices connected here.
    private func serve(_ message: NATSMessage) {
        guard let replyTo = message.replyTo,
            let request = try? JSONDecoder().decode(Request.self, from: Data(message.payload.readableBytesView)),
            request.origin != node
        else { return }
        guard let tenantID = try? TenantID(request.tenant), let deviceID = try? DeviceID(request.device) else {
            reply(Answer(id: request.id, isAbsent: true), to: replyTo)
            return
        }
        guard served.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maximumServed else {
            served.wrappingSubtract(1, ordering: .relaxed)
            // Busy is neither absent (the device may well be here) nor an answer (another node may have it).
            reply(Answer(id: request.id, isBusy: true), to: replyTo)
            return
        }
        let timeout = Duration.milliseconds(min(max(request.milliseconds, 0), 300_000))
        Task { [self] in
            defer { served.wrappingSubtract(1, ordering: .relaxed) }
            var answer = Answer(id: request.id)
            do {
                let response = try await methods.invokeHere(
                    request.name, payload: Array(request.payload), on: deviceID, in: tenantID, timeout: timeout)
                answer.status = response.status
                answer.payload = Data(response.payload)
            } catch let error as WardenError where error.code == .methodDeviceOffline {
                answer.isAbsent = true
            } catch let error as WardenError {
                answer.code = error.code.name
                answer.reason = error.reason
            } catch {
                answer.code = WardenError.Code.internalError.name
            }
            reply(answer, to: replyTo)
        }
    }

    private func reply(_ answer: Answer, to subject: String) {
        guard let json = try? JSONEncoder().encode(answer) else { return }
        nats.publish(subject, payload: ByteBuffer(bytes: json))
    }
}
