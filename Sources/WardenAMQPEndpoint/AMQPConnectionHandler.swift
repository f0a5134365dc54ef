import Logging
import NIOCore
import Synchronization
import WardenAMQP
import WardenAuthentication
import WardenAzure
import WardenBroker
import WardenCore
import WardenHub

/// One device connection over AMQP 1.0 (protocols.md §2): SASL (`MSSBCBS`, `ANONYMOUS`, `PLAIN`) or none,
/// then the connection, its sessions and links. Devices prove who they are with a SAS token, as SASL PLAIN's
/// password or in a CBS put-token on the `$cbs` node, or with the TLS client certificate the connection
/// presented (checked when a link first names the device); a device's links are attached only once it
/// proved itself. Each telemetry message is acknowledged (`accepted`) once committed; cloud-to-device
/// messages are sent unsettled on the device's `devicebound` link, and its dispositions settle them; direct
/// method calls go out on its methods link and its answers come back on the other; twin requests come in on
/// its twin link and their answers, and desired-property patches, go out on the other.
///
/// Every count a peer chooses is bounded by `AMQPEndpointSettings`; a violation closes the connection with
/// the AMQP condition that names it, a refused message is `rejected` with its reason.
final class AMQPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Waiting for a protocol header: SASL's or AMQP's (a client that skips SASL, as the C# SDK does).
        case header
        /// SASL mechanisms sent; waiting for the client's choice.
        case sasl
        /// A PLAIN password being checked: nothing more is read until the outcome is sent.
        case saslChecking
        /// SASL done; waiting for the AMQP header.
        case afterSASL
        /// Headers exchanged; waiting for `open`.
        case awaitingOpen
        case opened
        case closed
    }

    /// A link, by the client's handle (this endpoint answers with the same number).
    private struct Link {
        let name: String
        let node: AMQPNode
        /// Tells this link from a later one on the same handle, for commits that complete after it ended.
        let generation: UInt64
        /// Detached by this endpoint; the handle stays taken, and what arrives on it is dropped, until the
        /// client's detach answers (§2.6.5).
        var detaching = false
        /// True when the client sends on it (this endpoint receives).
        let receiving: Bool
        /// Receiving: the sender's delivery count as this endpoint knows it, and the credit outstanding.
        var deliveryCount: UInt32
        var credit: UInt32 = 0
        /// Messages handed to the hub and not yet settled.
        var awaiting = 0
        /// A delivery whose transfers are still arriving: its id, whether the client settled it, its message
        /// format, its bytes.
        var assembling: (deliveryID: UInt32, settled: Bool, format: UInt32, payload: ByteBuffer)?
        /// Sending: the credit the client gave, and what waits for it (CBS replies, method calls, or
        /// cloud-to-device messages in sequence order).
        var peerCredit: UInt32 = 0
        var queued: [Outgoing] = []
        /// The rest of a delivery whose first transfers went out: it goes on as the session's window allows.
        var partial: ByteBuffer?
        /// The largest message the client's link takes; 0 for any.
        var peerMaximumMessageSize: UInt64 = 0
        /// A drain the client asked for while something was still to send: answered once it is sent.
        var draining = false
        /// A sending device link's attachment to the hub's service for it (`CloudToDeviceService`,
        /// `MethodService`, `TwinService`), and what that service hands it through.
        var attachment: (number: UInt64, sender: DeviceSender, outlet: DeviceOutlet)?
    }

    /// A message waiting for a sending link's credit; a cloud-to-device one goes unsettled, tagged with its
    /// lock token, and remembers its place in the device's queue.
    private struct Outgoing {
        let message: AMQPMessage
        var delivery: (sequence: Int64, lockToken: AMQPUUID)?
        /// A method call's request id, which fails the call if it is never sent.
        var call: UInt64?
    }

    /// A cloud-to-device delivery the client has not settled.
    private struct Unsettled {
        let handle: UInt32
        let sequence: Int64
        let attachment: UInt64
        let sender: DeviceSender
    }

    private struct Session {
        /// The client's channel for this session; this endpoint uses the same number.
        let channel: UInt16
        /// The id of the next transfer the client sends, and how many more this endpoint takes before it says
        /// so again.
        var nextIncomingID: UInt32
        var incomingLeft: UInt32
        var nextOutgoingID: UInt32 = 0
        var remoteIncomingWindow: UInt32
        /// The id of this endpoint's next delivery (a delivery may take several transfers).
        var nextDeliveryID: UInt32 = 0
        var links: [UInt32: Link] = [:]
        /// Cloud-to-device deliveries sent and not settled by the client, by delivery id: at most a queue's
        /// depth a link.
        var unsettled: [UInt32: Unsettled] = [:]
    }

    /// Transfers a session takes before this endpoint renews its window; each is one frame.
    private static let sessionWindow: UInt32 = 8192
    /// CBS replies waiting for the client's credit, in all, before a put-token is refused.
    private static let maximumQueuedReplies = 16
    /// Put-tokens checked at once on a connection.
    private static let maximumTokensInFlight = 2
    /// The largest CBS request (a SAS token is a few hundred bytes).
    private static let maximumTokenMessageSize = 16 * 1024
    /// Method calls waiting for a methods link's credit; more fail at once (`method.device_offline`). Twin
    /// answers and patches waiting for a twin link's credit, and twin requests waiting for their answers, the
    /// same.
    private static let maximumQueuedCalls = 64
    /// Refused put-tokens before the connection closes (guessing tokens costs an HMAC and a record each).
    private static let maximumRefusedTokens = 5
    /// The longest error description written: descriptions name devices and topics, and a close, end, detach
    /// or rejection must fit the smallest frame a client may ask for (512 bytes).
    private static let maximumDescriptionBytes = 256
    /// How long the last bytes may wait for a client that does not read before the socket closes anyway.
    private static let drainLimit = TimeAmount.seconds(2)

    private let services: AMQPEndpointServices
    private let peerAddress: IPAddress
    /// The TLS client certificate chain the connection presented (DER, leaf first), if any.
    private let presented: PresentedChain
    /// The host name the client's `open` named: with a certificate, it names the tenant.
    private var hostName = ""
    /// Devices a link named whose certificate check ran on this connection (each is checked once).
    private var certificateChecked: Set<DeviceID> = []
    /// A certificate being checked for the attach that named its device: nothing more is read until then.
    private var isIdentifying = false
    private var context: ChannelHandlerContext?
    private var phase = Phase.header
    private var buffer = ByteBuffer()
    private var sessions: [UInt16: Session] = [:]
    /// A device whose token this connection presented: the identity, its hold on live revocation, and the
    /// timer that ends its authority when the token expires.
    private struct Authority {
        let identity: DeviceIdentity
        let hold: UInt64
        let expiry: Scheduled<Void>?
    }

    private var devices: [DeviceID: Authority] = [:]
    /// Twin requests sent to the hub by every connection: each answer comes back by its request id, which no
    /// other connection's request (nor, in practice, a device's own MQTT `$rid`) shares.
    private static let twinRequestNumbers = Atomic<UInt64>(0)
    private var isPending = true
    private var nextGeneration: UInt64 = 0
    /// Messages handed to the hub (or put-tokens) and not yet settled, whatever became of their links since.
    private var uncommitted = 0
    /// Put-tokens refused on this connection; a few more than an SDK's retries close it.
    private var refusedTokens = 0
    /// Put-tokens being checked; more at once are answered 429 without being checked.
    private var tokensInFlight = 0
    /// Reading stops while the client does not read what is written to it, and while a PLAIN password is
    /// checked (what it pipelines meanwhile waits in the kernel, not here).
    private var isWriteBlocked = false
    /// Whether a flush is due at the end of this loop turn (`flush`).
    private var isFlushScheduled = false
    private var maximumFrameSize: Int
    /// On the event loop's clock (the clock its timers run on).
    private var lastRead = NIODeadline.uptimeNanoseconds(0)
    private var timers: [RepeatedTask] = []
    private var authenticationDeadline: Scheduled<Void>?

    init(services: AMQPEndpointServices, peerAddress: IPAddress, presented: PresentedChain) {
        self.services = services
        self.peerAddress = peerAddress
        self.presented = presented
        maximumFrameSize = AMQPFrame.minimumMaximumSize
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        awaitAuthentication()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        // From the start: a client that authenticated with PLAIN and then sends nothing is closed too.
        let idle = services.settings.idleTimeout
        let eventLoop = context.eventLoop
        lastRead = eventLoop.now
        timers.append(
            eventLoop.scheduleRepeatedTask(initialDelay: idle, delay: .nanoseconds(idle.nanoseconds / 2)) { _ in
                guard bound.value.lastRead + idle < eventLoop.now else { return }
                bound.value.fail(.resourceLimitExceeded, "The client sent nothing within the idle time-out.")
            })
    }

    /// A connection carrying no device has the authentication time-out to present a token, from the accept
    /// and again whenever its last device's authority ends.
    private func awaitAuthentication() {
        guard let context, devices.isEmpty else { return }
        authenticationDeadline?.cancel()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        authenticationDeadline = context.eventLoop.scheduleTask(in: services.settings.authenticationTimeout) {
            guard bound.value.devices.isEmpty else { return }
            bound.value.fail(.unauthorizedAccess, "No device authenticated within the time allowed.")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        services.connections.remove()
        for (channel, session) in sessions {
            for handle in session.links.keys { release(channel, handle) }
        }
        for authority in devices.values {
            services.revocation.release(authority.hold, authority.identity)
            authority.expiry?.cancel()
        }
        devices = [:]
        authenticationDeadline?.cancel()
        for timer in timers { timer.cancel() }
        releasePending()
        phase = .closed
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .closed else { return }
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        lastRead = context.eventLoop.now
        readBuffered()
    }

    /// Acts on whatever whole headers and frames are buffered (also after an outcome let reading go on).
    private func readBuffered() {
        do {
            while phase != .closed, try step() {}
        } catch let error as AMQPDecodingError {
            fail(error.condition, error.rule)
        } catch let error as AMQPError {
            fail(error.condition, error.description ?? "")
        } catch {
            fail(.internalError, "\(error)")
        }
        buffer.discardReadBytes()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    /// A client that sends without reading (attaches whose termini are echoed, flows asking for an echo)
    /// would grow what is written to it without bound: it is not read until it reads.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWriteBlocked = !context.channel.isWritable
        updateReading()
        context.fireChannelWritabilityChanged()
    }

    private func updateReading() {
        try? context?.channel.syncOptions?.setOption(
            ChannelOptions.autoRead, value: !isWriteBlocked && phase != .saslChecking && !isIdentifying)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        services.logger.debug("AMQP connection error.", metadata: ["error": "\(error)"])
        phase = .closed
        context.close(promise: nil)
    }

    // MARK: Reading

    /// Reads what the phase expects; false when more bytes are needed.
    private func step() throws -> Bool {
        guard !isIdentifying else { return false }
        switch phase {
        case .header, .afterSASL:
            let header: AMQPProtocolHeader?
            do {
                header = try AMQPProtocolHeader.decode(&buffer)
            } catch {
                throw refuseHeader()
            }
            guard let header else { return false }
            try headerArrived(header)
            return true
        case .sasl, .awaitingOpen, .opened:
            let limit = phase == .sasl ? AMQPFrame.minimumMaximumSize : services.settings.maximumFrameSize
            guard let frame = try AMQPFrameDecoder.decode(&buffer, maximumFrameSize: limit) else { return false }
            try frameArrived(frame)
            return true
        case .saslChecking, .closed:
            return false
        }
    }

    private func headerArrived(_ header: AMQPProtocolHeader) throws {
        switch (phase, header) {
        case (.header, .sasl):
            write(header)
            write(AMQPFrame(kind: .sasl, performative: .saslMechanisms(["MSSBCBS", "PLAIN", "ANONYMOUS"])))
            phase = .sasl
        case (.header, .amqp), (.afterSASL, .amqp):
            write(.amqp)
            phase = .awaitingOpen
        default:
            throw refuseHeader()
        }
    }

    /// Answers a header this endpoint does not take with the one it speaks, before closing (§2.2).
    private func refuseHeader() -> AMQPError {
        write(phase == .header ? .sasl : .amqp)
        return AMQPError(.notImplemented, "protocol_header.unexpected")
    }

    private func frameArrived(_ frame: AMQPFrame) throws {
        guard let performative = frame.performative else { return }  // A heartbeat.
        switch (phase, performative) {
        case (.sasl, .saslInit(let initial)):
            saslInit(initial)
        case (.awaitingOpen, .open(let open)):
            opened(open)
        case (.opened, .begin(let begin)):
            try began(begin, channel: frame.channel)
        case (.opened, .attach(let attach)):
            try attached(attach, channel: frame.channel)
        case (.opened, .flow(let flow)):
            try flowed(flow, channel: frame.channel)
        case (.opened, .transfer(let transfer)):
            try transferred(transfer, payload: frame.payload, channel: frame.channel)
        case (.opened, .disposition(let disposition)):
            try disposed(disposition, channel: frame.channel)
        case (.opened, .detach(let detach)):
            try detached(detach, channel: frame.channel)
        case (.opened, .end):
            try ended(channel: frame.channel)
        case (.opened, .close):
            write(AMQPFrame(performative: .close(nil)))
            closeSocket()
        default:
            throw AMQPError(.framingError, "performative.unexpected")
        }
    }

    // MARK: SASL and open

    private func saslInit(_ initial: AMQPPerformative.SASLInit) {
        switch initial.mechanism {
        case "MSSBCBS", "ANONYMOUS":
            // Devices prove who they are with CBS tokens once the connection is open.
            saslOutcome(.ok)
        case "PLAIN":
            // A device id may hold `@`: the hub's part is after the last `@sas.`.
            guard let (user, password) = Self.plain(initial.initialResponse),
                let at = user.ranges(of: "@sas.").last?.lowerBound
            else {
                saslOutcome(.authentication)
                return
            }
            // `{deviceId}@sas.{hub}` with a SAS token as the password (IoT Hub's SASL PLAIN).
            let deviceID = String(user[..<at])
            let audience = "\(user[user.index(at, offsetBy: 5)...])/devices/\(deviceID)"
            phase = .saslChecking
            updateReading()
            authenticate(token: password, audience: audience) { handler, outcome in
                handler.saslOutcome(outcome == nil ? .ok : .authentication)
                handler.updateReading()
                handler.readBuffered()
            }
        default:
            saslOutcome(.authentication)
        }
    }

    private func saslOutcome(_ outcome: AMQPPerformative.SASLOutcome) {
        write(AMQPFrame(kind: .sasl, performative: .saslOutcome(outcome)))
        flush()
        if outcome == .ok {
            phase = .afterSASL
        } else {
            closeSocket()
        }
    }

    /// `authzid NUL authcid NUL password` (RFC 4616).
    private static func plain(_ response: ByteBuffer?) -> (String, String)? {
        guard let response else { return nil }
        let parts = response.readableBytesView.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3, let user = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self)
        else { return nil }
        return (user, password)
    }

    private func opened(_ open: AMQPPerformative.Open) {
        let settings = services.settings
        // total: a UInt32 widened; the minimum is 512 (§2.7.1).
        maximumFrameSize = max(AMQPFrame.minimumMaximumSize, min(settings.maximumFrameSize, Int(open.maximumFrameSize)))
        hostName = open.hostname ?? ""
        phase = .opened
        write(
            AMQPFrame(
                performative: .open(
                    .init(
                        containerID: "warden", maximumFrameSize: UInt32(truncatingIfNeeded: settings.maximumFrameSize),
                        channelMaximum: UInt16(truncatingIfNeeded: settings.maximumSessions - 1),
                        idleTimeout: UInt32(truncatingIfNeeded: settings.idleTimeout.nanoseconds / 1_000_000)))))
        startHeartbeats(peerIdleTimeout: open.idleTimeout)
    }

    /// Heartbeats at half the client's idle time-out (§2.4.5).
    private func startHeartbeats(peerIdleTimeout: UInt32?) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        if let peerIdleTimeout, peerIdleTimeout > 0 {
            // At most one a second, whatever the client asks for (1 ms would spin the event loop).
            // total: widens a UInt32.
            let half = TimeAmount.milliseconds(max(1000, Int64(peerIdleTimeout / 2)))
            timers.append(
                context.eventLoop.scheduleRepeatedTask(initialDelay: half, delay: half) { _ in
                    bound.value.write(AMQPFrame(performative: nil))
                    bound.value.flush()
                })
        }
    }

    // MARK: Sessions and links

    private func began(_ begin: AMQPPerformative.Begin, channel: UInt16) throws {
        guard begin.remoteChannel == nil, sessions[channel] == nil else {
            throw AMQPError(.framingError, "begin.channel_in_use")
        }
        // total: widens a UInt16.
        guard Int(channel) < services.settings.maximumSessions else {
            throw AMQPError(.resourceLimitExceeded, "begin.too_many_sessions")
        }
        sessions[channel] = Session(
            channel: channel, nextIncomingID: begin.nextOutgoingID, incomingLeft: Self.sessionWindow,
            remoteIncomingWindow: begin.incomingWindow)
        write(
            AMQPFrame(
                channel: channel,
                performative: .begin(
                    .init(
                        remoteChannel: channel, nextOutgoingID: 0, incomingWindow: Self.sessionWindow,
                        outgoingWindow: Self.sessionWindow,
                        handleMaximum: UInt32(truncatingIfNeeded: services.settings.maximumLinksPerSession - 1)))))
    }

    private func ended(channel: UInt16) throws {
        guard let session = sessions[channel] else { throw AMQPError(.framingError, "end.no_session") }
        for handle in session.links.keys { release(channel, handle) }
        sessions[channel] = nil
        write(AMQPFrame(channel: channel, performative: .end(nil)))
    }

    private func attached(_ attach: AMQPPerformative.Attach, channel: UInt16) throws {
        guard let session = sessions[channel] else { throw AMQPError(.framingError, "attach.no_session") }
        guard session.links[attach.handle] == nil else {
            throw AMQPError(.handleInUse, "attach.handle_in_use")
        }
        guard attach.handle < services.settings.maximumLinksPerSession else {
            throw AMQPError(.resourceLimitExceeded, "attach.too_many_links")
        }
        let receiving = attach.role == .sender
        let node = AMQPNode(address: attach.address(of: receiving ? attach.target : attach.source))
        let certificates = presented.certificates
        if let deviceID = node.deviceID, devices[deviceID] == nil, !certificateChecked.contains(deviceID),
            !certificates.isEmpty
        {
            identify(deviceID, by: certificates) { handler in try handler.attached(attach, channel: channel) }
            return
        }
        let tokenLinks = sessions.values.reduce(0) { count, session in
            count + session.links.values.filter { $0.receiving && $0.node == .claimsBasedSecurity }.count
        }
        let refusal: AMQPError? =
            switch node {
            case .claimsBasedSecurity where receiving && tokenLinks > 0:
                AMQPError(.resourceLimitExceeded, "One $cbs link for put-tokens a connection.")
            case .claimsBasedSecurity: nil
            case .telemetry(let deviceID) where receiving:
                authority(of: deviceID) == nil
                    ? AMQPError(
                        .unauthorizedAccess, "No token of device '\(deviceID)' was accepted on this connection.")
                    : nil
            case .cloudToDevice(let deviceID) where !receiving:
                refusal(for: deviceID) { try $0.authorizeCloudToDevice(for: $1, peer: $2) }
            case .methods(let deviceID) where receiving: refusal(for: deviceID) { _, _, _ in }
            case .methods(let deviceID): refusal(for: deviceID) { try $0.authorizeMethods(for: $1, peer: $2) }
            // Each request is decided as it comes, as its MQTT PUBLISH would be.
            case .twin(let deviceID) where receiving: refusal(for: deviceID) { _, _, _ in }
            case .twin(let deviceID): refusal(for: deviceID) { try $0.authorizeTwin(for: $1, peer: $2) }
            default:
                AMQPError(
                    .notFound,
                    "This endpoint serves $cbs and devices' telemetry, cloud-to-device, method and twin links.")
            }
        let sendsToDevice = refusal == nil && node.deviceID != nil && !receiving
        // Cloud-to-device messages wait for the device's disposition; method calls and twin answers need none
        // (an answer, or the next request, is the acknowledgement).
        let settleMode: UInt8 =
            switch node {
            case .cloudToDevice where sendsToDevice: 0
            case .methods where sendsToDevice, .twin where sendsToDevice: 1
            default: 2
            }
        let reply = AMQPPerformative.Attach(
            name: attach.name, handle: attach.handle, role: receiving ? .receiver : .sender,
            // Only a cloud-to-device link settles second if the client asks; the rest settle first.
            senderSettleMode: settleMode, receiverSettleMode: settleMode == 0 ? attach.receiverSettleMode : 0,
            source: refusal == nil ? attach.source : nil,
            target: refusal == nil ? attach.target : nil, initialDeliveryCount: receiving ? nil : 0,
            maximumMessageSize: UInt64(truncatingIfNeeded: services.settings.maximumMessageSize))
        write(AMQPFrame(channel: channel, performative: .attach(reply)))
        // An echo beyond the client's frame size closed the connection: nothing is attached.
        guard phase != .closed else { return }
        nextGeneration += 1
        var link = Link(
            name: attach.name, node: node, generation: nextGeneration, receiving: receiving,
            deliveryCount: attach.initialDeliveryCount ?? 0)
        link.peerMaximumMessageSize = attach.maximumMessageSize ?? 0
        link.detaching = refusal != nil
        // Only the link is written: deciding the refusal may have detached the device's other links.
        sessions[channel]?.links[attach.handle] = link
        if let refusal {
            // A refused link is attached without a terminus and detached at once with why (§2.6.3).
            write(
                AMQPFrame(
                    channel: channel, performative: .detach(.init(handle: attach.handle, closed: true, error: refusal)))
            )
        } else if receiving {
            topUp()
        } else if sendsToDevice {
            attachToDevice(channel: channel, handle: attach.handle)
        }
    }

    /// Gives receiving links credit again once they spent half of it: the `$cbs` link as many put-tokens as
    /// are checked at once; the links devices send on (telemetry, method answers, twin requests) an equal
    /// share of the connection's budget (four links' worth,
    /// each at most `linkCredit`), none while the connection has that many messages uncommitted (links
    /// detached with commits pending included), so that neither re-attaching nor multiplexing devices
    /// multiplies what waits, and a link that got none gets its share when others settle.
    private func topUp() {
        // total: widens a UInt32.
        let limit = Int(services.settings.linkCredit)
        let budget = 4 * limit
        var deviceLinks: [(channel: UInt16, handle: UInt32)] = []
        var tokenLinks: [(channel: UInt16, handle: UInt32)] = []
        for (channel, session) in sessions {
            for (handle, link) in session.links where link.receiving && !link.detaching {
                if link.node == .claimsBasedSecurity {
                    tokenLinks.append((channel, handle))
                } else {
                    deviceLinks.append((channel, handle))
                }
            }
        }
        let share = max(1, min(limit, budget / max(1, deviceLinks.count)))
        for (channel, handle) in tokenLinks + (uncommitted < budget ? deviceLinks : []) {
            guard let link = sessions[channel]?.links[handle] else { continue }
            let target = link.node == .claimsBasedSecurity ? Self.maximumTokensInFlight : share
            // total: a credit is at most `linkCredit`; `awaiting` counts messages of that credit.
            guard Int(link.credit) + link.awaiting <= target / 2, target - link.awaiting > Int(link.credit) else {
                continue
            }
            sessions[channel]?.links[handle]?.credit = UInt32(clamping: target - link.awaiting)
            sendFlow(channel: channel, handle: handle)
        }
    }

    private func detached(_ detach: AMQPPerformative.Detach, channel: UInt16) throws {
        release(channel, detach.handle)
        guard let link = sessions[channel]?.links.removeValue(forKey: detach.handle) else {
            throw AMQPError(.unattachedHandle, "detach.unattached_handle")
        }
        // The client's answer to this endpoint's detach needs none.
        guard !link.detaching else { return }
        write(AMQPFrame(channel: channel, performative: .detach(.init(handle: detach.handle, closed: detach.closed))))
    }

    private func flowed(_ flow: AMQPPerformative.Flow, channel: UInt16) throws {
        guard var session = sessions[channel] else { throw AMQPError(.framingError, "flow.no_session") }
        // The window the client has left for this endpoint's transfers (§2.5.6).
        session.remoteIncomingWindow = (flow.nextIncomingID ?? 0) &+ flow.incomingWindow &- session.nextOutgoingID
        sessions[channel] = session
        // A wider window lets every sending link of the session go on, whichever link the flow names.
        defer { resumeSending(channel) }
        guard let handle = flow.handle else { return }
        guard var link = session.links[handle] else {
            throw AMQPError(.unattachedHandle, "flow.unattached_handle")
        }
        guard !link.detaching else { return }
        if !link.receiving, let credit = flow.linkCredit {
            // link-credit(snd) = delivery-count(rcv) + link-credit(rcv) - delivery-count(snd) (§2.6.7).
            link.peerCredit = (flow.deliveryCount ?? 0) &+ credit &- link.deliveryCount
            link.draining = flow.drain
            sessions[channel]?.links[handle] = link
            // Credit for a cloud-to-device link: the device's queue offers what it now takes first, so that a
            // drain waits for those messages (they are on their way) rather than spending the credit.
            if let attachment = link.attachment, link.node == .cloudToDevice(attachment.sender.deviceID) {
                // total: a credit widened.
                attachment.outlet.credit = Int(link.peerCredit) - link.queued.count
                offerPending(attachment)
            }
            sendQueued(channel: channel, handle: handle)
        }
        if flow.echo { sendFlow(channel: channel, handle: handle) }
    }

    private func sendFlow(channel: UInt16, handle: UInt32?) {
        guard let session = sessions[channel] else { return }
        let link = handle.flatMap { session.links[$0] }
        write(
            AMQPFrame(
                channel: channel,
                performative: .flow(
                    .init(
                        nextIncomingID: session.nextIncomingID, incomingWindow: session.incomingLeft,
                        nextOutgoingID: session.nextOutgoingID, outgoingWindow: Self.sessionWindow, handle: handle,
                        deliveryCount: link?.deliveryCount,
                        linkCredit: link.map { $0.receiving ? $0.credit : $0.peerCredit }))))
    }

    // MARK: Transfers in

    /// A whole message's place: where to settle it, and how the client sent it.
    private struct Delivery {
        let channel: UInt16
        let handle: UInt32
        let generation: UInt64
        let deliveryID: UInt32
        let settledBySender: Bool
        let messageFormat: UInt32
    }

    private func transferred(
        _ transfer: AMQPPerformative.Transfer, payload: ByteBuffer, channel: UInt16
    ) throws {
        guard var session = sessions[channel] else { throw AMQPError(.framingError, "transfer.no_session") }
        guard session.incomingLeft > 0 else {
            throw AMQPError(.windowViolation, "transfer.beyond_session_window")
        }
        session.nextIncomingID &+= 1
        session.incomingLeft -= 1
        if session.incomingLeft <= Self.sessionWindow / 2 { session.incomingLeft = Self.sessionWindow }
        let renewed = session.incomingLeft == Self.sessionWindow
        defer { if renewed { sendFlow(channel: channel, handle: nil) } }
        guard var link = session.links[transfer.handle], link.receiving else {
            throw AMQPError(.unattachedHandle, "transfer.unattached_handle")
        }
        sessions[channel] = session
        // What was sent before the client saw this endpoint's detach is dropped.
        guard !link.detaching else { return }
        let limit =
            link.node == .claimsBasedSecurity ? Self.maximumTokenMessageSize : services.settings.maximumMessageSize
        if transfer.aborted {
            link.assembling = nil
        } else if var assembling = link.assembling {
            guard assembling.payload.readableBytes + payload.readableBytes <= limit else {
                throw AMQPError(.messageSizeExceeded, "transfer.message_too_large")
            }
            guard partialBytes() + payload.readableBytes <= 4 * services.settings.maximumMessageSize else {
                throw AMQPError(.resourceLimitExceeded, "transfer.too_much_in_parts")
            }
            var payload = payload
            assembling.payload.writeBuffer(&payload)
            link.assembling = assembling
        } else {
            guard let deliveryID = transfer.deliveryID else {
                throw AMQPError(.invalidField, "transfer.no_delivery_id")
            }
            guard link.credit > 0 else {
                throw AMQPError(.transferLimitExceeded, "transfer.without_credit")
            }
            guard payload.readableBytes <= limit else {
                throw AMQPError(.messageSizeExceeded, "transfer.message_too_large")
            }
            link.credit -= 1
            link.deliveryCount &+= 1
            link.assembling = (deliveryID, transfer.settled ?? false, transfer.messageFormat ?? 0, payload)
        }
        var whole: (deliveryID: UInt32, settled: Bool, format: UInt32, payload: ByteBuffer)?
        if !transfer.more, !transfer.aborted {
            whole = link.assembling
            link.assembling = nil
            if whole != nil {
                link.awaiting += 1
                uncommitted += 1
            }
        }
        sessions[channel]?.links[transfer.handle] = link
        guard let whole else { return }
        let delivery = Delivery(
            channel: channel, handle: transfer.handle, generation: link.generation, deliveryID: whole.deliveryID,
            settledBySender: whole.settled, messageFormat: whole.format)
        let message: AMQPMessage
        do {
            message = try AMQPMessage(decoding: whole.payload)
        } catch {
            settle(delivery, .rejected(AMQPError(error.condition, error.rule)))
            return
        }
        switch link.node {
        case .claimsBasedSecurity: putToken(message, delivery)
        case .telemetry(let deviceID): telemetry(message, from: deviceID, delivery)
        case .methods(let deviceID): methodAnswer(message, from: deviceID, delivery)
        case .twin(let deviceID): twinRequest(message, from: deviceID, delivery)
        case .cloudToDevice, .unknown: settle(delivery, .released)
        }
    }

    /// The bytes of messages whose transfers are still arriving, on every link: at most four messages' worth.
    private func partialBytes() -> Int {
        sessions.values.reduce(0) { total, session in
            session.links.values.reduce(total) { $0 + ($1.assembling?.payload.readableBytes ?? 0) }
        }
    }

    /// Says what became of a delivery (unless the client settled it when sending), and gives its credit back
    /// in batches: once half the link's credit is spent, it is filled again.
    private func settle(_ delivery: Delivery, _ state: AMQPDeliveryState) {
        uncommitted -= 1
        guard phase == .opened, var link = sessions[delivery.channel]?.links[delivery.handle],
            link.generation == delivery.generation
        else {
            topUp()
            return
        }
        if !delivery.settledBySender, !link.detaching {
            write(
                AMQPFrame(
                    channel: delivery.channel,
                    performative: .disposition(
                        .init(role: .receiver, first: delivery.deliveryID, settled: true, state: state))))
        }
        link.awaiting -= 1
        sessions[delivery.channel]?.links[delivery.handle] = link
        topUp()
        flush()
    }

    private func telemetry(_ message: AMQPMessage, from deviceID: DeviceID, _ delivery: Delivery) {
        guard let sender = authorityOrReject(deviceID, delivery) else { return }
        let telemetry: [AMQPTelemetry]
        do {
            telemetry = try AMQPTelemetry.messages(in: message, format: delivery.messageFormat)
        } catch {
            settle(delivery, .rejected(error))
            return
        }
        // Submitted here, in the link's order; only the wait for the commit leaves the event loop.
        var tickets: [UInt64] = []
        for one in telemetry {
            do {
                if let ticket = try services.gateway.submitTelemetry(
                    from: sender, properties: one.properties, body: Array(one.body.readableBytesView),
                    peer: peerAddress)
                {
                    tickets.append(ticket)
                }
            } catch {
                // What of a batch was submitted before stays submitted: the client resends, at least once.
                settle(delivery, .rejected(Self.rejection(error)))
                return
            }
        }
        // Tickets grow: the last one's commit is every one's.
        guard let last = tickets.last else {
            settle(delivery, .accepted)
            return
        }
        afterCommit(last) { handler in handler.settle(delivery, .accepted) }
    }

    /// The device's sender while its token lasts; once it expired (`authority(of:)` detached the device's
    /// links), the delivery is rejected, giving its place in the connection's budget back.
    private func authorityOrReject(_ deviceID: DeviceID, _ delivery: Delivery) -> DeviceSender? {
        if let sender = authority(of: deviceID) { return sender }
        settle(delivery, .rejected(AMQPError(.unauthorizedAccess, "The token of device '\(deviceID)' expired.")))
        return nil
    }

    /// Detaches a link with why; its handle stays taken until the client answers.
    private func detach(_ channel: UInt16, _ handle: UInt32, _ error: AMQPError) {
        guard sessions[channel]?.links[handle]?.detaching == false else { return }
        release(channel, handle)
        sessions[channel]?.links[handle]?.detaching = true
        sessions[channel]?.links[handle]?.credit = 0
        sessions[channel]?.links[handle]?.assembling = nil
        write(AMQPFrame(channel: channel, performative: .detach(.init(handle: handle, closed: true, error: error))))
        flush()
    }

    // MARK: Twins

    /// A twin request on the device's twin link (protocols.md §2.7): annotation `operation` (`GET`; `PATCH` of
    /// `resource` `/properties/reported` with a JSON patch; `PUT` or `DELETE` of
    /// `/notifications/twin/properties/desired` to hear desired patches or not) and a correlation id. `GET`
    /// and `PATCH` are handled as their MQTT PUBLISH (policy, limits, commit) under a request id of this
    /// connection's, and answered on the other twin link, which must be attached; the rest is `rejected` with
    /// why.
    private func twinRequest(_ message: AMQPMessage, from deviceID: DeviceID, _ delivery: Delivery) {
        guard let sender = authorityOrReject(deviceID, delivery) else { return }
        func annotation(_ name: String) -> String? {
            message.messageAnnotations?.first { $0.key.text == name }.flatMap { AMQPTelemetry.text($0.value) }
        }
        guard let correlation = message.properties?.correlationID,
            let text = AMQPTelemetry.text(correlation),
            (1...TwinService.maximumRequestIDBytes).contains(text.utf8.count)
        else {
            settle(
                delivery,
                .rejected(AMQPError(.decodeError, "A twin request carries a correlation id of 1 to 128 bytes.")))
            return
        }
        guard let answers = twinAnswerLink(of: deviceID) else {
            settle(delivery, .rejected(AMQPError(.notAllowed, "Attach the twin's receiving link first.")))
            return
        }
        let request: AzureTopic
        let requestID = "amqp-" + String(Self.twinRequestNumbers.wrappingAdd(1, ordering: .relaxed).newValue, radix: 16)
        switch (annotation("operation"), annotation("resource")) {
        case ("GET", _):
            request = .twinGet(requestID: requestID)
        case ("PATCH", "/properties/reported"):
            request = .twinReportedPatch(requestID: requestID)
        case (let operation?, "/notifications/twin/properties/desired")
        where operation == "PUT" || operation == "DELETE":
            answers.outlet.hearsDesired = operation == "PUT"
            settle(delivery, .accepted)
            queueTwin(
                AMQPMessage(
                    messageAnnotations: [AMQPMapEntry(.symbol("status"), .int(200))],
                    properties: .init(correlationID: correlation), body: .data([ByteBuffer()])),
                channel: answers.channel, handle: answers.handle)
            return
        default:
            settle(delivery, .rejected(AMQPError(.notImplemented, "Twin operations are GET, PATCH, PUT and DELETE.")))
            return
        }
        guard answers.outlet.expect(requestID, answeredWith: correlation, atMost: Self.maximumQueuedCalls) else {
            services.metrics.hit(.twinRequests)
            settle(delivery, .rejected(AMQPError(.resourceLimitExceeded, "Too many twin requests wait for answers.")))
            return
        }
        do {
            _ = try services.gateway.submitRequest(
                request, from: sender, body: Array((message.body.bytes ?? ByteBuffer()).readableBytesView),
                peer: peerAddress)
        } catch {
            _ = answers.outlet.answered(requestID)
            settle(delivery, .rejected(Self.rejection(error)))
            return
        }
        settle(delivery, .accepted)
    }

    /// The device's twin link that this endpoint sends on, if attached here: the latest, which took the
    /// place of any earlier one (whose detach may still be on its way).
    private func twinAnswerLink(of deviceID: DeviceID) -> (channel: UInt16, handle: UInt32, outlet: DeviceOutlet)? {
        var latest: (channel: UInt16, handle: UInt32, outlet: DeviceOutlet, generation: UInt64)?
        for (channel, session) in sessions {
            for (handle, link) in session.links where link.node == .twin(deviceID) && !link.receiving {
                guard let outlet = link.attachment?.outlet, link.generation > latest?.generation ?? 0 else { continue }
                latest = (channel, handle, outlet, link.generation)
            }
        }
        return latest.map { ($0.channel, $0.handle, $0.outlet) }
    }

    /// An answer to a twin request of this link's (`correlation`; with its `status`, `version` after a patch,
    /// the twin for a `GET`) or a desired-property patch the device asked to hear (its `version`), from the
    /// hub's twin service; decided as its MQTT delivery would be (`receive` on its topic).
    fileprivate func twinDelivered(
        _ topic: AzureTopic, body: [UInt8], correlation: AMQPValue?, channel: UInt16, handle: UInt32,
        generation: UInt64
    ) {
        guard phase == .opened, let link = sessions[channel]?.links[handle], link.generation == generation,
            let sender = link.attachment?.sender, authority(of: sender.deviceID) != nil,
            (try? services.gateway.authorizeReceiving(topic.name, for: sender, peer: peerAddress)) != nil
        else { return }
        var annotations: [AMQPMapEntry] = []
        switch topic {
        case .twinResponse(let status, _, let version):
            annotations.append(AMQPMapEntry(.symbol("status"), .int(Int32(clamping: status))))
            // total: Int is 64 bits here.
            if let version { annotations.append(AMQPMapEntry(.symbol("version"), .long(Int64(version)))) }
        case .twinDesiredPatch(let version):
            // total: Int is 64 bits here.
            annotations.append(AMQPMapEntry(.symbol("version"), .long(Int64(version))))
        default:
            return
        }
        queueTwin(
            AMQPMessage(
                messageAnnotations: annotations, properties: correlation.map { .init(correlationID: $0) },
                body: .data([ByteBuffer(bytes: body)])),
            channel: channel, handle: handle)
    }

    /// Queues a twin answer or patch for the link's credit; past `maximumQueuedCalls` it is dropped (the
    /// device that does not read its twin loses patches, as an MQTT device not subscribed does).
    private func queueTwin(_ message: AMQPMessage, channel: UInt16, handle: UInt32) {
        guard let queued = sessions[channel]?.links[handle]?.queued.count, queued < Self.maximumQueuedCalls else {
            services.metrics.hit(.twinAnswersWaiting)
            return
        }
        sessions[channel]?.links[handle]?.queued.append(Outgoing(message: message))
        sendQueued(channel: channel, handle: handle)
        flush()
    }

    // MARK: Claims-based security

    /// A put-token on `$cbs`: the token is checked as an HTTPS device's would be, and the answer goes back on
    /// the client's `$cbs` receiving link (status 200, or 401 with the refusal's reference id).
    private func putToken(_ request: AMQPMessage, _ delivery: Delivery) {
        settle(delivery, .accepted)
        let channel = delivery.channel
        let properties = request.applicationProperties ?? []
        func property(_ name: String) -> String? {
            properties.first { $0.key == .string(name) }?.value.text
        }
        guard property("operation") == "put-token", case .value(.string(let token)) = request.body,
            let audience = property("name")
        else {
            reply(to: request, status: 400, "A put-token names its audience and carries a SAS token.", channel: channel)
            return
        }
        guard tokensInFlight < Self.maximumTokensInFlight else {
            services.metrics.hit(.putTokensAtOnce)
            reply(to: request, status: 429, "Put-tokens are checked two at a time; send again.", channel: channel)
            return
        }
        // A renewed token of a device this connection carries takes no new place; tokens being checked do.
        let known = TokenAudience(audience).flatMap { try? DeviceID($0.deviceID) }.map { devices[$0] != nil } ?? false
        guard known || devices.count + tokensInFlight < services.settings.maximumDevicesPerConnection else {
            services.metrics.hit(.devicesPerConnection)
            reply(to: request, status: 403, "This connection carries as many devices as it may.", channel: channel)
            return
        }
        tokensInFlight += 1
        authenticate(token: token, audience: audience) { handler, refusal in
            handler.tokensInFlight -= 1
            handler.reply(to: request, status: refusal == nil ? 200 : 401, refusal ?? "OK", channel: channel)
            guard refusal != nil else { return }
            handler.refusedTokens += 1
            if handler.refusedTokens >= Self.maximumRefusedTokens {
                handler.fail(.unauthorizedAccess, "Too many refused tokens on this connection.")
            }
        }
    }

    private func reply(to request: AMQPMessage, status: Int32, _ description: String, channel: UInt16) {
        let links = sessions[channel]?.links ?? [:]
        guard let handle = links.first(where: { !$0.value.receiving && $0.value.node == .claimsBasedSecurity })?.key
        else { return }
        let queued = sessions.values.reduce(0) { total, session in
            session.links.values.reduce(total) { $0 + ($1.node == .claimsBasedSecurity ? $1.queued.count : 0) }
        }
        guard queued < Self.maximumQueuedReplies else {
            services.metrics.hit(.tokenRepliesWaiting)
            return
        }
        let response = AMQPMessage(
            properties: .init(to: request.properties?.replyTo, correlationID: request.properties?.messageID),
            applicationProperties: [
                AMQPMapEntry(.string("status-code"), .int(status)),
                AMQPMapEntry(.string("status-description"), .string(description)),
            ],
            body: .value(.null))
        sessions[channel]?.links[handle]?.queued.append(Outgoing(message: response))
        sendQueued(channel: channel, handle: handle)
        flush()
    }

    /// Sends a sending link's waiting messages while the client's link credit and session window allow, a
    /// transfer at a time (a delivery may wait for the window between its transfers): CBS replies and method
    /// calls settled, cloud-to-device messages unsettled (remembered until the client settles them).
    private func sendQueued(channel: UInt16, handle: UInt32) {
        guard var session = sessions[channel], var link = session.links[handle], !link.detaching else { return }
        while session.remoteIncomingWindow > 0 {
            if var rest = link.partial {
                writeTransfer(channel: channel, handle: handle, first: nil, &rest)
                link.partial = rest.readableBytes > 0 ? rest : nil
            } else {
                guard let next = link.queued.first, link.peerCredit > 0 else { break }
                link.queued.removeFirst()
                var payload = ByteBuffer()
                payload.writeAMQPMessage(next.message)
                // total: a buffer's size widened.
                guard link.peerMaximumMessageSize == 0 || UInt64(payload.readableBytes) <= link.peerMaximumMessageSize
                else {
                    refuseTooLarge(next, on: link)
                    continue
                }
                let deliveryID = session.nextDeliveryID
                let tag = next.delivery?.lockToken.bytes ?? ByteBuffer(integer: link.deliveryCount)
                writeTransfer(
                    channel: channel, handle: handle, first: (deliveryID, tag, next.delivery == nil), &payload)
                link.partial = payload.readableBytes > 0 ? payload : nil
                if let delivery = next.delivery, let attachment = link.attachment {
                    session.unsettled[deliveryID] = Unsettled(
                        handle: handle, sequence: delivery.sequence, attachment: attachment.number,
                        sender: attachment.sender)
                }
                session.nextDeliveryID &+= 1
                link.deliveryCount &+= 1
                link.peerCredit -= 1
            }
            session.nextOutgoingID &+= 1
            session.remoteIncomingWindow -= 1
        }
        // A drain is answered once nothing is left to send, nor on its way from the device's queue: the credit
        // is spent and the client told (§2.6.7).
        let drained =
            link.draining && link.queued.isEmpty && link.partial == nil && link.attachment?.outlet.inTransit ?? 0 == 0
        if drained {
            link.deliveryCount &+= link.peerCredit
            link.peerCredit = 0
            link.draining = false
        }
        session.links[handle] = link
        sessions[channel] = session
        if drained { sendFlow(channel: channel, handle: handle) }
        // total: a credit widened.
        link.attachment?.outlet.credit = Int(link.peerCredit) - link.queued.count
    }

    /// Goes on with every sending link of the session that has something to send.
    private func resumeSending(_ channel: UInt16) {
        for (handle, link) in sessions[channel]?.links ?? [:]
        where !link.receiving && (link.partial != nil || !link.queued.isEmpty) {
            sendQueued(channel: channel, handle: handle)
        }
    }

    /// A message larger than the client's link takes is never sent: a cloud-to-device message is rejected for
    /// the device (dead-lettered, with its feedback), a method call fails.
    private func refuseTooLarge(_ outgoing: Outgoing, on link: Link) {
        guard let attachment = link.attachment else { return }
        if let delivery = outgoing.delivery {
            _ = try? services.gateway.settle(
                for: attachment.sender, sequence: delivery.sequence, link: attachment.number, .reject)
        } else if let call = outgoing.call {
            services.methods.undeliverable(
                call, of: attachment.sender, reason: "The call is larger than the device's link takes.")
        }
    }

    /// The room a transfer's performative and frame header may take, at most (a 32-byte tag included).
    private static let transferOverhead = 128

    /// Writes the next transfer of a delivery within the connection's frame size, taking its part from
    /// `payload`: the first carries the delivery's id, tag and settlement; all but the last say `more`
    /// (§2.6.14).
    private func writeTransfer(
        channel: UInt16, handle: UInt32, first: (deliveryID: UInt32, tag: ByteBuffer, settled: Bool)?,
        _ payload: inout ByteBuffer
    ) {
        let part = payload.readSlice(length: min(maximumFrameSize - Self.transferOverhead, payload.readableBytes))
        let more = payload.readableBytes > 0
        let transfer =
            first.map {
                AMQPPerformative.Transfer(
                    handle: handle, deliveryID: $0.deliveryID, deliveryTag: $0.tag, messageFormat: 0,
                    settled: $0.settled, more: more)
            } ?? AMQPPerformative.Transfer(handle: handle, more: more)
        write(AMQPFrame(channel: channel, performative: .transfer(transfer), payload: part ?? ByteBuffer()))
    }

    // MARK: Cloud-to-device

    /// Why a link of the device may not be attached here, or nil: a token of it was accepted on this
    /// connection, and `authorize` lets it (the policy, as an MQTT device's SUBSCRIBE is decided).
    private func refusal(
        for deviceID: DeviceID, _ authorize: (DeviceGateway, DeviceSender, IPAddress) throws -> Void
    ) -> AMQPError? {
        guard let sender = authority(of: deviceID) else {
            return AMQPError(.unauthorizedAccess, "No token of device '\(deviceID)' was accepted on this connection.")
        }
        do {
            try authorize(services.gateway, sender, peerAddress)
        } catch {
            return AMQPError(.unauthorizedAccess, (error as? WardenError)?.reason ?? "\(error)")
        }
        return nil
    }

    /// Attaches a link that sends to the device to the hub's service for it: the device's cloud-to-device
    /// queue, its direct methods or its twin are delivered here from now on.
    private func attachToDevice(channel: UInt16, handle: UInt32) {
        guard let context, let link = sessions[channel]?.links[handle], let deviceID = link.node.deviceID,
            let sender = devices[deviceID]?.identity.sender
        else { return }
        let outlet = DeviceOutlet(
            handler: NIOLoopBound(self, eventLoop: context.eventLoop), sender: sender, channel: channel,
            handle: handle, generation: link.generation)
        let number =
            switch link.node {
            case .methods: services.methods.attach(outlet, tenantID: sender.tenantID, deviceID: deviceID)
            case .twin: services.twins.attach(outlet, tenantID: sender.tenantID, deviceID: deviceID)
            default: services.gateway.cloudToDevice.attach(outlet, tenantID: sender.tenantID, deviceID: deviceID)
            }
        sessions[channel]?.links[handle]?.attachment = (number, sender, outlet)
    }

    /// Messages the device's queue locked to a link: queued in sequence order for its credit, each with a new
    /// lock token. A link that ended meanwhile already gave them back; a device whose token expired loses the
    /// link (which gives them back).
    fileprivate func offered(_ messages: [CloudToDeviceMessage], channel: UInt16, handle: UInt32, generation: UInt64) {
        guard phase == .opened, var link = sessions[channel]?.links[handle], link.generation == generation,
            link.attachment != nil, let deviceID = link.node.deviceID
        else { return }
        guard authority(of: deviceID) != nil else {
            detach(channel, handle, AMQPError(.unauthorizedAccess, "The token of device '\(deviceID)' expired."))
            return
        }
        for message in messages {
            let lockToken = AMQPUUID.random()
            let outgoing = Outgoing(
                message: AMQPMessage(cloudToDevice: message, lockToken: lockToken),
                delivery: (message.sequenceNumber, lockToken))
            let position =
                link.queued.firstIndex { ($0.delivery?.sequence ?? .max) > message.sequenceNumber }
                ?? link.queued.endIndex
            link.queued.insert(outgoing, at: position)
        }
        sessions[channel]?.links[handle] = link
        sendQueued(channel: channel, handle: handle)
        guard let attachment = link.attachment else { return }
        attachment.outlet.arrived(messages.count)
        // Counted twice for a moment (queued here and still on the way), the room an offer meanwhile saw was
        // too small: what it left Enqueued is asked for again; a drain that waited for these is answered.
        offerPending(attachment)
        sendQueued(channel: channel, handle: handle)
        flush()
    }

    /// Asks the device's cloud-to-device queue for what the link has room for.
    private func offerPending(_ attachment: (number: UInt64, sender: DeviceSender, outlet: DeviceOutlet)) {
        guard attachment.outlet.capacity > 0 else { return }
        services.gateway.cloudToDevice.offerPending(
            tenantID: attachment.sender.tenantID, deviceID: attachment.sender.deviceID)
    }

    /// Another link of the device took this one's place (on this connection or another).
    fileprivate func superseded(channel: UInt16, handle: UInt32, generation: UInt64) {
        guard sessions[channel]?.links[handle]?.generation == generation else { return }
        detach(channel, handle, AMQPError(.linkStolen, "Another link of the device took this one's place."))
    }

    /// Detaches a link that sends to the device from the hub's service: a cloud-to-device queue gets back
    /// what the link held and the client did not settle (its dispositions still to come settle nothing);
    /// method calls waiting for credit fail at once; twin answers still to come go to MQTT (none is this
    /// link's any more).
    private func release(_ channel: UInt16, _ handle: UInt32) {
        guard let link = sessions[channel]?.links[handle], let attachment = link.attachment else { return }
        sessions[channel]?.links[handle]?.attachment = nil
        sessions[channel]?.links[handle]?.queued = []
        attachment.outlet.credit = 0
        let (tenantID, deviceID) = (attachment.sender.tenantID, attachment.sender.deviceID)
        switch link.node {
        case .methods:
            services.methods.detach(attachment.number, tenantID: tenantID, deviceID: deviceID)
            for call in link.queued.compactMap(\.call) {
                services.methods.undeliverable(call, of: attachment.sender, reason: "The device's method link closed.")
            }
            return
        case .twin:
            services.twins.detach(attachment.number, tenantID: tenantID, deviceID: deviceID)
            return
        default:
            break
        }
        let kept = sessions[channel]?.unsettled.filter { $0.value.handle != handle } ?? [:]
        sessions[channel]?.unsettled = kept
        services.gateway.cloudToDevice.detach(attachment.number, tenantID: tenantID, deviceID: deviceID)
    }

    // MARK: Direct methods

    /// A call for the device on its methods link (protocols.md §2.6): the request id as the correlation id (a
    /// UUID, as the SDKs read it), the method's name in `IoThub-methodname`, the payload as the body; sent
    /// settled within the link's credit. Each call is decided as its MQTT delivery would be (`receive` on its
    /// topic, with the policy of now). A link that ended, a device whose authority ended, a denial, or as many
    /// calls waiting as a link may have, fail it at once.
    fileprivate func requested(
        _ name: String, payload: [UInt8], requestID: UInt64, for sender: DeviceSender, channel: UInt16,
        handle: UInt32, generation: UInt64
    ) {
        func fail(_ reason: String) {
            services.methods.undeliverable(requestID, of: sender, reason: reason)
        }
        guard phase == .opened, let link = sessions[channel]?.links[handle], link.generation == generation,
            link.attachment != nil, authority(of: sender.deviceID) != nil
        else { return fail("The device's method link closed.") }
        guard link.queued.count < Self.maximumQueuedCalls else {
            services.metrics.hit(.methodCallsWaiting)
            return fail("The device has \(Self.maximumQueuedCalls) calls waiting for it to take them.")
        }
        do {
            try services.gateway.authorizeReceiving(
                AzureTopic.methodRequest(name: name, requestID: String(requestID, radix: 16)).name, for: sender,
                peer: peerAddress)
        } catch {
            return fail(error.reason)
        }
        let call = AMQPMessage(
            properties: .init(correlationID: .uuid(AMQPUUID(high: 0, low: requestID))),
            applicationProperties: [AMQPMapEntry(.string("IoThub-methodname"), .string(name))],
            body: .data([ByteBuffer(bytes: payload)]))
        sessions[channel]?.links[handle]?.queued.append(Outgoing(message: call, call: requestID))
        sendQueued(channel: channel, handle: handle)
        flush()
    }

    /// The device's answer on its other methods link: the call's correlation id, `IoThub-status` and a body
    /// (anything else is `rejected`, `amqp:decode-error`), taken as its MQTT PUBLISH on
    /// `$iothub/methods/res/{status}/?$rid={id}` would be: the policy decides it, and an answer to no call of
    /// this device is dropped.
    private func methodAnswer(_ message: AMQPMessage, from deviceID: DeviceID, _ delivery: Delivery) {
        guard let sender = authorityOrReject(deviceID, delivery) else { return }
        // total: text parsed (nil when it is not a number).
        let status = message.applicationProperties?.first { $0.key == .string("IoThub-status") }
            .flatMap { AMQPTelemetry.text($0.value) }.flatMap { Int($0) }
        guard case .uuid(let id)? = message.properties?.correlationID, let status, let payload = message.body.bytes
        else {
            settle(
                delivery,
                .rejected(
                    AMQPError(
                        .decodeError, "A method answer carries its call's correlation-id, IoThub-status and a body.")))
            return
        }
        // Not a call of this hub's (their ids are UUIDs with a zero high half): dropped, as an answer to nothing.
        guard id.high == 0 else {
            settle(delivery, .accepted)
            return
        }
        do {
            _ = try services.gateway.submitRequest(
                .methodResponse(status: status, requestID: String(id.low, radix: 16)), from: sender,
                body: Array(payload.readableBytesView), peer: peerAddress)
        } catch {
            settle(delivery, .rejected(Self.rejection(error)))
            return
        }
        settle(delivery, .accepted)
    }

    /// What a message the hub refused is rejected with: the policy's denial, or the hub's reason.
    private static func rejection(_ error: any Error) -> AMQPError {
        let refusal = error as? WardenError
        let condition: AMQPCondition = refusal?.code == .authForbidden ? .unauthorizedAccess : .notAllowed
        return AMQPError(condition, refusal?.reason ?? "\(error)")
    }

    /// The client settles cloud-to-device deliveries (protocols.md §2.5): `accepted` completes, `rejected`
    /// dead-letters, `released` or `modified` abandons (sent again, counted). A client in receiver-settle-mode
    /// `second` hears the settlement once it is committed. Dispositions of this endpoint's receiving links
    /// need nothing: it sends its own settled.
    private func disposed(_ disposition: AMQPPerformative.Disposition, channel: UInt16) throws {
        guard var session = sessions[channel] else { throw AMQPError(.framingError, "disposition.no_session") }
        guard disposition.role == .receiver,
            let settlement = Self.settlement(of: disposition.state, settled: disposition.settled)
        else { return }
        // The range may span the whole id space: only the deliveries held are looked at.
        let first = disposition.first
        let span = (disposition.last ?? first) &- first
        let ids = session.unsettled.keys.filter { $0 &- first <= span }.sorted { $0 &- first < $1 &- first }
        var settled: [(UInt32, Unsettled, UInt64?)] = []
        for id in ids {
            guard let unsettled = session.unsettled.removeValue(forKey: id) else { continue }
            // A message no longer held (expired, purged, the device deleted) settles nothing.
            let ticket = try? services.gateway.settle(
                for: unsettled.sender, sequence: unsettled.sequence, link: unsettled.attachment, settlement)
            settled.append((id, unsettled, ticket))
        }
        sessions[channel] = session
        guard !disposition.settled, !settled.isEmpty else { return }
        let state = disposition.state
        // Tickets grow: the last one's commit is every one's (with none, at once).
        afterCommit(settled.compactMap(\.2).max() ?? 0) { handler in
            for (id, unsettled, ticket) in settled where handler.sessions[channel]?.links[unsettled.handle] != nil {
                // A message the link no longer held (superseded, expired) went back to the queue.
                handler.write(
                    AMQPFrame(
                        channel: channel,
                        performative: .disposition(
                            .init(role: .sender, first: id, settled: true, state: ticket == nil ? .released : state))))
            }
        }
    }

    /// What a disposition's outcome does to a cloud-to-device message; nil while the client has not decided.
    static func settlement(of state: AMQPDeliveryState?, settled: Bool) -> CloudToDeviceSettlement? {
        switch state {
        case .accepted: .complete
        case .rejected: .reject
        // Not to be sent to this link again: as IoT Hub has no such outcome, dead-lettered.
        case .modified(_, undeliverableHere: true): .reject
        case .released, .modified: .abandon
        // Settled without an outcome: the message goes back, as released.
        case .received, nil: settled ? .abandon : nil
        }
    }

    // MARK: Authentication

    /// Checks `token` for the device its audience names, off the event loop; `then` runs back on it with nil
    /// when accepted, or the refusal the client may hear (with its reference id).
    private func authenticate(
        token: String, audience: String, then: @escaping (AMQPConnectionHandler, String?) -> Void
    ) {
        guard let named = TokenAudience(audience) else {
            then(self, "The audience is not {host}/devices/{id}.")
            return
        }
        let gateway = services.gateway
        let peer = peerAddress
        let epoch = services.revocation.epoch()
        complete { () -> Result<DeviceIdentity, WardenError> in
            do throws(WardenError) {
                return .success(
                    try await gateway.identify(
                        authorization: token, certificates: [], hostName: named.hostName, deviceID: named.deviceID,
                        peer: peer))
            } catch {
                return .failure(error)
            }
        } then: { handler, result in
            switch result {
            case .success(let identity):
                if let refusal = handler.hold(identity, checkedSince: epoch) {
                    then(handler, refusal)
                    return
                }
                handler.authenticated()
                then(handler, nil)
            case .failure(let error):
                then(handler, error.reason)
            }
        }
    }

    /// Checks the connection's client certificate for the device a link named, as the C SDK's X.509 devices
    /// prove themselves (no SASL, no CBS), nothing more being read meanwhile; then `resume` goes on with that
    /// attach, which finds the device's authority or refuses the link. A refusal counts as a refused token.
    private func identify(
        _ deviceID: DeviceID, by certificates: [[UInt8]],
        resume: @escaping (AMQPConnectionHandler) throws -> Void
    ) {
        certificateChecked.insert(deviceID)
        isIdentifying = true
        updateReading()
        let gateway = services.gateway
        let (peer, hostName) = (peerAddress, hostName)
        let epoch = services.revocation.epoch()
        complete { () -> Result<DeviceIdentity, WardenError> in
            do throws(WardenError) {
                return .success(
                    try await gateway.identify(
                        authorization: nil, certificates: certificates, hostName: hostName,
                        deviceID: deviceID.rawValue, peer: peer))
            } catch {
                return .failure(error)
            }
        } then: { handler, result in
            handler.isIdentifying = false
            if case .success(let identity) = result, handler.hold(identity, checkedSince: epoch) == nil {
                handler.authenticated()
            } else {
                handler.refusedTokens += 1
            }
            do {
                try resume(handler)
                if handler.refusedTokens >= Self.maximumRefusedTokens {
                    throw AMQPError(.unauthorizedAccess, "Too many refused credentials on this connection.")
                }
            } catch let error as AMQPError {
                handler.fail(error.condition, error.description ?? "")
                return
            } catch {
                handler.fail(.internalError, "\(error)")
                return
            }
            handler.updateReading()
            handler.readBuffered()
        }
    }

    /// A device proved itself: the connection's budgets are given back, its authentication deadline ends.
    private func authenticated() {
        if isPending { services.limiter.refund(peerAddress) }
        authenticationDeadline?.cancel()
        releasePending()
    }

    /// Records the device's authority on this connection (a renewed token replaces the one before) with live
    /// revocation, which calls `revoked` when the registry takes it back; the refusal when it cannot be held.
    private func hold(_ identity: DeviceIdentity, checkedSince epoch: UInt64) -> String? {
        guard let context else { return "The connection closed." }
        let earlier = devices[identity.deviceID]
        // Link addresses name a device, not its tenant: one id per connection.
        if let earlier, earlier.identity.tenantID != identity.tenantID {
            return "A device of that id from another tenant is on this connection."
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let hold = services.revocation.hold(
            .init(identity: identity, peerAddress: peerAddress) { id, reason in
                eventLoop.execute { bound.value.revoked(identity.deviceID, hold: id, reason) }
            })
        // A change the registry made while the token was checked is not missed: a revocation since the check
        // began, or a status, list or filter that no longer admits the device, asked once held.
        let refusal =
            services.revocation.revokedSince(epoch, identity)
            ? "The device's authority was revoked while its token was checked."
            : services.gateway.revocation(of: identity, peerAddress: peerAddress)?.reason
        if let refusal {
            services.revocation.release(hold, identity)
            // A renewal refused for a revocation ends what the earlier token held too.
            if let earlier { revoked(identity.deviceID, hold: earlier.hold, refusal) }
            return refusal
        }
        if let earlier {
            services.revocation.release(earlier.hold, earlier.identity)
            earlier.expiry?.cancel()
        }
        // Its links, sending ones too, end with the token unless a renewed one took its place.
        let expiry = identity.expiry.map { expiry in
            // A signed `se` may be any number: the wait is clamped (past 136 years is never).
            let now = services.clock.now().unixSeconds
            let seconds = expiry > now ? min(expiry - now, 1 << 32) : 0
            // total: at most 2^32.
            return eventLoop.scheduleTask(in: .seconds(Int64(seconds))) {
                bound.value.revoked(
                    identity.deviceID, hold: hold, "The token of device '\(identity.deviceID)' expired.")
            }
        }
        devices[identity.deviceID] = Authority(identity: identity, hold: hold, expiry: expiry)
        return nil
    }

    /// The registry took the device back, or its token expired: its links are detached, its token forgotten
    /// (unless a renewed token replaced that hold meanwhile).
    private func revoked(_ deviceID: DeviceID, hold: UInt64, _ reason: String) {
        guard let authority = devices[deviceID], authority.hold == hold else { return }
        services.revocation.release(hold, authority.identity)
        authority.expiry?.cancel()
        devices[deviceID] = nil
        detachLinks(of: deviceID, AMQPError(.unauthorizedAccess, reason))
        awaitAuthentication()
    }

    private func detachLinks(of deviceID: DeviceID, _ error: AMQPError) {
        for (channel, session) in sessions {
            for (handle, link) in session.links where link.node.deviceID == deviceID && !link.detaching {
                detach(channel, handle, error)
            }
        }
    }

    /// The device's sender while its token lasts.
    private func authority(of deviceID: DeviceID) -> DeviceSender? {
        guard let authority = devices[deviceID] else { return nil }
        if let expiry = authority.identity.expiry, expiry <= services.clock.now().unixSeconds {
            revoked(deviceID, hold: authority.hold, "The token of device '\(deviceID)' expired.")
            return nil
        }
        return authority.identity.sender
    }

    // MARK: Plumbing

    /// Runs `work` off the event loop and `then` back on it, while the connection lasts.
    private func complete<Value: Sendable>(
        _ work: @escaping @Sendable () async -> Value, then: @escaping (AMQPConnectionHandler, Value) -> Void
    ) {
        guard let back = returning(then) else { return }
        Task { back(await work()) }
    }

    /// Runs `then` on the event loop once every change up to `ticket` is committed, while the connection lasts:
    /// a callback from the store's writer, not a task per message.
    private func afterCommit(_ ticket: UInt64, then: @escaping (AMQPConnectionHandler) -> Void) {
        guard let back = returning({ (handler, _: Void) in then(handler) }) else { return }
        services.gateway.whenCommitted(ticket) { back(()) }
    }

    /// What calls `then` with a value on this handler's event loop, from any thread, unless the connection has
    /// closed by then; nil once the handler left its channel.
    private func returning<Value: Sendable>(
        _ then: @escaping (AMQPConnectionHandler, Value) -> Void
    ) -> (@Sendable (Value) -> Void)? {
        guard let context else { return nil }
        let bound = NIOLoopBound((self, then), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        return { value in
            eventLoop.execute {
                let (handler, then) = bound.value
                guard handler.phase != .closed else { return }
                then(handler, value)
                handler.flush()
            }
        }
    }

    private func releasePending() {
        guard isPending else { return }
        isPending = false
        services.pending.release(peerAddress)
    }

    private func write(_ header: AMQPProtocolHeader) {
        guard let context else { return }
        var bytes = context.channel.allocator.buffer(capacity: AMQPProtocolHeader.size)
        header.write(to: &bytes)
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    private func write(_ frame: AMQPFrame) {
        guard let context, phase != .closed else { return }
        var bytes = context.channel.allocator.buffer(capacity: 64 + frame.payload.readableBytes)
        bytes.writeAMQPFrame(frame.cuttingErrorDescriptions(to: Self.maximumDescriptionBytes))
        // Transfers are cut to the client's frame size; an attach echoes the link's name and termini, which the
        // client may have sent in frames larger than those it reads itself (§2.7.1: then nothing fits).
        guard bytes.readableBytes <= maximumFrameSize else {
            fail(.frameSizeTooSmall, "A frame answering the client exceeds the max-frame-size it announced.")
            return
        }
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    /// Hands what was written to the socket once per loop turn, however many answers the turn wrote: a commit
    /// settles a batch of messages at once, and each flush is a TLS record and a system call.
    private func flush() {
        guard let context, !isFlushScheduled else { return }
        isFlushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            isFlushScheduled = false
            self.context?.flush()
        }
    }

    /// Closes the connection telling the client why: a `close` with the condition once open, otherwise just
    /// the socket (before `open` a frame of the connection's would not be read).
    private func fail(_ condition: AMQPCondition, _ description: String) {
        guard phase != .closed else { return }
        services.metrics.refused(condition)
        services.logger.debug(
            "AMQP connection refused.", metadata: ["peer": "\(peerAddress)", "condition": "\(condition.rawValue)"])
        if phase == .opened {
            write(AMQPFrame(performative: .close(AMQPError(condition, description))))
        }
        closeSocket()
    }

    private func closeSocket() {
        guard let context, phase != .closed else { return }
        phase = .closed
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
        // A client that does not read keeps the last bytes from being written: the socket closes anyway.
        context.eventLoop.scheduleTask(in: Self.drainLimit) { channel.close(promise: nil) }
    }
}

/// A link that sends to a device, as the hub's services see it (its cloud-to-device queue, its direct
/// methods, its twin): what they hand it goes to the connection's event loop. What a service asks of it
/// synchronously (a cloud-to-device link's room, whether a twin answer is this link's) it answers from its
/// own state, kept under its lock.
private final class DeviceOutlet: CloudToDeviceLink, MethodLink, TwinLink {
    private let handler: NIOLoopBound<AMQPConnectionHandler>
    private let channel: UInt16
    private let handle: UInt32
    private let generation: UInt64
    /// The device the link sends to.
    let sender: DeviceSender
    private let state = Mutex(State())

    private struct State {
        /// A cloud-to-device link: the client's credit less what waits on the link, and what the queue locked
        /// to it that has not reached the link yet.
        var credit = 0
        var inTransit = 0
        /// A twin link: the requests sent to the hub whose answers come here, with the correlation id each
        /// carries back, and whether the device asked to hear desired patches.
        var twinRequests: [String: AMQPValue] = [:]
        var hearsDesired = false
    }

    init(
        handler: NIOLoopBound<AMQPConnectionHandler>, sender: DeviceSender, channel: UInt16, handle: UInt32,
        generation: UInt64
    ) {
        self.handler = handler
        self.sender = sender
        self.channel = channel
        self.handle = handle
        self.generation = generation
    }

    /// Set by the link whenever its credit or what waits on it changes.
    var credit: Int {
        get { state.withLock { $0.credit } }
        set { state.withLock { $0.credit = newValue } }
    }

    var capacity: Int {
        state.withLock { max(0, $0.credit - $0.inTransit) }
    }

    func took(_ count: Int) {
        state.withLock { $0.inTransit += count }
    }

    var inTransit: Int {
        state.withLock { $0.inTransit }
    }

    /// Messages reached the link (its credit recounted first, so that the room is never overstated).
    func arrived(_ count: Int) {
        state.withLock { $0.inTransit = max(0, $0.inTransit - count) }
    }

    var hearsDesired: Bool {
        get { state.withLock { $0.hearsDesired } }
        set { state.withLock { $0.hearsDesired = newValue } }
    }

    /// Records a twin request whose answer comes here; false when `limit` already wait.
    func expect(_ requestID: String, answeredWith correlation: AMQPValue, atMost limit: Int) -> Bool {
        state.withLock { state in
            guard state.twinRequests.count < limit else { return false }
            state.twinRequests[requestID] = correlation
            return true
        }
    }

    /// Forgets a twin request; its correlation id, if it was waiting.
    func answered(_ requestID: String) -> AMQPValue? {
        state.withLock { $0.twinRequests.removeValue(forKey: requestID) }
    }

    func takes(_ topic: AzureTopic) -> Bool {
        switch topic {
        case .twinResponse(_, let requestID, _): state.withLock { $0.twinRequests[requestID] != nil }
        case .twinDesiredPatch: hearsDesired
        default: false
        }
    }

    func offer(_ messages: [CloudToDeviceMessage]) {
        handler.eventLoop.execute { [self] in
            handler.value.offered(messages, channel: channel, handle: handle, generation: generation)
        }
    }

    func request(_ name: String, payload: [UInt8], requestID: UInt64) {
        handler.eventLoop.execute { [self] in
            handler.value.requested(
                name, payload: payload, requestID: requestID, for: sender, channel: channel, handle: handle,
                generation: generation)
        }
    }

    func deliver(_ topic: AzureTopic, body: [UInt8]) {
        var correlation: AMQPValue?
        if case .twinResponse(_, let requestID, _) = topic {
            guard let waiting = answered(requestID) else { return }
            correlation = waiting
        }
        handler.eventLoop.execute { [self] in
            handler.value.twinDelivered(
                topic, body: body, correlation: correlation, channel: channel, handle: handle, generation: generation)
        }
    }

    func superseded() {
        handler.eventLoop.execute { [self] in
            handler.value.superseded(channel: channel, handle: handle, generation: generation)
        }
    }
}

extension AMQPFrame {
    /// The frame with its error's description (a close, end, detach or rejection) cut to at most `limit` UTF-8
    /// bytes, at a character.
    fileprivate func cuttingErrorDescriptions(to limit: Int) -> AMQPFrame {
        var frame = self
        switch performative {
        case .close(let error?): frame.performative = .close(error.cut(to: limit))
        case .end(let error?): frame.performative = .end(error.cut(to: limit))
        case .detach(var detach):
            detach.error = detach.error?.cut(to: limit)
            frame.performative = .detach(detach)
        case .disposition(var disposition):
            guard case .rejected(let error?) = disposition.state else { break }
            disposition.state = .rejected(error.cut(to: limit))
            frame.performative = .disposition(disposition)
        default: break
        }
        return frame
    }
}

extension AMQPError {
    fileprivate func cut(to limit: Int) -> AMQPError {
        var error = self
        error.description = description?.utf8Prefix(limit)
        return error
    }
}
