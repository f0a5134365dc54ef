import Logging
import NIOCore
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenMQTT
import WardenPolicy
import WardenSecurity
import WardenTLS

/// CONNECT: authenticate, take up the session, answer CONNACK (issue 3, "Authentication at CONNECT").
extension MQTTConnectionHandler {
    /// The only 5.0 Authentication Method the hub knows: a SAS token as Authentication Data (or password).
    static let sasAuthenticationMethod = "SAS"

    func handleConnect(_ connect: ConnectPacket, context: ChannelHandlerContext) {
        // A 5.0 client may carry its SAS token as Authentication Data instead of the password.
        let token =
            connect.password
            ?? connect.properties.authenticationMethod.flatMap { _ in
                connect.properties.authenticationData
            }
        seeConnection(context)
        if let username = connect.username.flatMap(ProvisioningUsername.init),
            let gateway = services.broker.provisioning
        {
            connectRegistration(connect, username: username, token: token, gateway: gateway, context: context)
            return
        }
        let claim = readClaim(username: connect.username, clientID: connect.clientID, token: token)
        let identity: ClientIdentity
        do throws(AuthenticationRefusal) {
            if let ban = services.gate.ban(ofClientID: connect.clientID) {
                throw AuthenticationRefusal(
                    reason: WardenError(
                        .authBanned, "Client id '\(connect.clientID)' is banned (ban \(ban.id))."),
                    isCredentialFailure: false)
            }
            identity = try authenticate(connect, claim)
        } catch {
            let reference = record(claim.credentials, .refused(error))
            log(
                .info,
                "Refused a connection.",
                metadata: [
                    "error.code": "\(error.reason.code.name)", "reason": "\(error.reason.reason)",
                    "decision.ref": "\(reference)",
                ])
            refuse(ConnectRefusal(error), connect, context: context)
            return
        }
        admit(connect, identity: identity, context: context) { [self] in
            connectReference = record(claim.credentials, identity.outcome)
        }
    }

    /// A DPS CONNECT: ClientId = registration id, proved by the gateway from memory; a refusal is a
    /// registration record of its own.
    private func connectRegistration(
        _ connect: ConnectPacket, username: ProvisioningUsername, token: [UInt8]?, gateway: any ProvisioningGateway,
        context: ChannelHandlerContext
    ) {
        do throws(WardenError) {
            guard connect.clientID == username.registrationID.rawValue else {
                throw WardenError(.authForbidden, "ClientId '\(connect.clientID)' is not the registration id.")
            }
            guard connect.will == nil else {
                throw WardenError(.authForbidden, "A provisioning client has no Will.")
            }
            let certificate = presented.leaf.map {
                DeviceCredentials.Certificate(leaf: $0, chain: presented.validation)
            }
            let identity = try gateway.authenticate(
                username, token: token, certificate: certificate, now: services.unixNow)
            admit(connect, identity: .registration(identity), context: context) {}
        } catch {
            let reference = ReferenceID.make()
            services.events.publish(
                .registration(
                    RegistrationRecord(
                        tenantID: nil, idScope: username.idScope, registrationID: username.registrationID.rawValue,
                        enrollment: nil, deviceID: nil, peerAddress: peerAddress, failure: error.code,
                        reason: error.reason, referenceID: reference, at: services.clock.now())))
            log(
                .info,
                "Refused a provisioning connection.",
                metadata: [
                    "error.code": "\(error.code.name)", "reason": "\(error.reason)", "decision.ref": "\(reference)",
                ])
            let refusal = AuthenticationRefusal(
                reason: error, isCredentialFailure: error.code != .authForbidden && error.code != .enrollmentDisabled)
            refuse(ConnectRefusal(refusal), connect, context: context)
        }
    }

    /// The policy's `connect`, the Will's topic, the negotiation, then the session; `recorded` runs once the
    /// connection is accepted, before CONNACK.
    private func admit(
        _ connect: ConnectPacket, identity: ClientIdentity, context: ChannelHandlerContext,
        recorded: @escaping () -> Void
    ) {
        let connectDecision = authorizeConnect(identity)
        guard connectDecision.isAllowed else {
            log(.info, "Refused a connection: the policy does not let it connect.", metadata: connectDecision.metadata)
            recordDenial(
                connectDecision, action: .connect, target: connect.clientID, of: identity, clientID: connect.clientID)
            refuse(.notAuthorized, connect, context: context)
            return
        }
        let willDecision = connect.will.map {
            authorize(identity, .topic($0.topic), payloadSize: $0.payload.count)
        }
        let outcome = machine.authenticated(
            as: identity, willAllowed: willDecision?.isAllowed ?? true, unixNow: services.unixNow,
            now: context.eventLoop.now, assignClientID: Self.assignClientID)
        switch outcome {
        case .refuse(let refusal):
            if refusal == .notAuthorized, let willDecision {
                log(.info, "Refused a connection: its Will topic is not allowed.", metadata: willDecision.metadata)
            }
            refuse(refusal, connect, context: context)
        case .closeWithoutConnack:
            log(
                .info,
                "Closed a connection: its Maximum Packet Size cannot hold a CONNACK.",
                metadata: ["mqtt.maximum_packet_size": "\(connect.properties.maximumPacketSize ?? 0)"])
            end(context)
        case .accept(let terms):
            takeUp(connect, terms: terms, identity: identity, context: context, recorded: recorded)
        }
    }

    /// Opens the session once nothing stands before it: a session another node of a cluster holds moves here
    /// first, and a connection here holding it first reads what it has received (once, and for at most
    /// `catchUpHold`: this only orders, and a holder's loop that does not answer in time does not stop the
    /// takeover). Nothing more is read meanwhile; after a wait the session is looked at again (it may have moved).
    private func takeUp(
        _ connect: ConnectPacket, terms: ConnectNegotiation.Terms, identity: ClientIdentity,
        context: ChannelHandlerContext, recorded: @escaping () -> Void, afterWaiting: Bool = false
    ) {
        let key = identity.sessionKey(clientID: terms.clientID)
        let resumes = !terms.cleanStart && identity.registration == nil
        // A full node refuses at once, without taking the session from its node.
        if resumes, !services.broker.isFull, let move = services.broker.moveHere(key, on: context.eventLoop) {
            holdReading(until: move, context: context) { handler, isMoved in
                guard isMoved else {
                    handler.log(.warning, "Refused a connection: its session could not be moved here.")
                    handler.refuse(.serverUnavailable, connect, context: context)
                    return
                }
                handler.openAfterWaiting(
                    connect, terms: terms, identity: identity, context: context, recorded: recorded)
            }
        } else if !afterWaiting, let caughtUp = services.broker.holderCaughtUp(key) {
            holdReading(until: caughtUp, at: Self.catchUpHold, context: context) { handler, _ in
                handler.takeUp(
                    connect, terms: terms, identity: identity, context: context, recorded: recorded, afterWaiting: true)
            }
        } else if afterWaiting {
            openAfterWaiting(connect, terms: terms, identity: identity, context: context, recorded: recorded)
        } else {
            open(connect, terms: terms, identity: identity, context: context, recorded: recorded)
        }
    }

    /// The longest a CONNECT waits for the loop of the connection holding its session here.
    static let catchUpHold = TimeAmount.milliseconds(100)

    /// What closed connections while this one waited (a ban, a revocation) refuses it: it had no session for
    /// them to close.
    private func openAfterWaiting(
        _ connect: ConnectPacket, terms: ConnectNegotiation.Terms, identity: ClientIdentity,
        context: ChannelHandlerContext, recorded: () -> Void
    ) {
        if let refusal = refusalAfterWaiting(identity, clientID: connect.clientID) {
            log(.info, "Refused a connection: its credential was revoked while its session waited.")
            refuse(refusal, connect, context: context)
            return
        }
        open(connect, terms: terms, identity: identity, context: context, recorded: recorded)
    }

    /// A ban of the ClientId or the device, or a revocation of the device's credential (disabled, deleted, keys
    /// rotated, certificate revoked), that came while the CONNECT waited for its session.
    private func refusalAfterWaiting(_ identity: ClientIdentity, clientID: String) -> ConnectRefusal? {
        if services.gate.ban(ofClientID: clientID) != nil { return .banned }
        guard let device = identity.deviceIdentity else { return nil }
        if services.gate.ban(of: device.deviceID, in: device.tenantID) != nil { return .banned }
        if services.authenticator.revocation(of: device, peerAddress: peerAddress) != nil { return .notAuthorized }
        return nil
    }

    /// Counts the connection, records it and opens its session.
    private func open(
        _ connect: ConnectPacket, terms: ConnectNegotiation.Terms, identity: ClientIdentity,
        context: ChannelHandlerContext, recorded: () -> Void
    ) {
        guard services.broker.admitConnection() else {
            refuse(.serverBusy, connect, context: context)
            return
        }
        recorded()
        accept(connect, terms: terms, identity: identity, context: context)
    }

    /// A ClientId for a client that sent none: 16 hex digits from the CSPRNG.
    private static func assignClientID() -> String {
        "warden-" + Hex.encode(SecretBytes.random(count: 8).bytes)
    }

    /// Publishes the outcome of a CONNECT on the event bus (audit, detection); returns its reference id.
    private func record(_ credentials: DeviceCredentials, _ outcome: AuthenticationOutcome) -> String {
        let referenceID = ReferenceID.make()
        services.events.publish(
            .authentication(
                services.authenticator.record(
                    credentials, outcome, protocolName: policyContext.protocolName, referenceID: referenceID,
                    at: services.clock.now())))
        return referenceID
    }

    private func accept(
        _ connect: ConnectPacket, terms: ConnectNegotiation.Terms, identity: ClientIdentity,
        context: ChannelHandlerContext
    ) {
        let metrics = services.broker.metrics
        let sink = ChannelSink(
            channel: context.channel, version: terms.version, maximumPacketSize: terms.clientMaximumPacketSize,
            identity: identity, peerAddress: peerAddress, policyContext: policyContext,
            onDrop: { metrics.dropped($0) })
        // A provisioning client's session lasts as long as its connection, whatever it asked for.
        let isRegistration = identity.registration != nil
        let attachment = services.broker.open(
            identity.sessionKey(clientID: terms.clientID), cleanStart: terms.cleanStart || isRegistration,
            expiryInterval: isRegistration ? 0 : terms.sessionExpiry, receiveMaximum: terms.receiveMaximum,
            maximumPacketSize: terms.clientMaximumPacketSize, sink: sink, now: context.eventLoop.now)
        if attachment.sessionPresent {
            PolicyReevaluation(
                broker: services.broker, authorizer: services.authorizer, events: services.events,
                clock: services.clock
            ).recheckSubscriptions(of: attachment.session, as: identity, in: policyContext)
        }
        connection = Accepted(
            identity: identity, session: attachment.session, sink: sink, username: connect.username,
            will: connect.will.map { makeWill($0, identity: identity, clientID: terms.clientID) })
        leavePending(authenticated: true)
        connectedClientID = terms.clientID
        sink.start([.connack(terms.connack(sessionPresent: attachment.sessionPresent))] + attachment.resend)
        if let device = identity.deviceIdentity {
            services.broker.deviceReady(device.sender)
            report(device, username: connect.username, context: context)
            startSampling(of: device, context: context)
        }
        log(
            .info,
            "Connected.",
            metadata: [
                "tenant.id": "\(identity.tenantID)", "mqtt.version": "\(terms.version)",
                "session.present": "\(attachment.sessionPresent)",
            ])
        scheduleTick(context)
    }

    /// Who the CONNECT is: anonymous (when the listener admits it and no credential was given), a service or a
    /// device.
    private func authenticate(_ connect: ConnectPacket, _ claim: ConnectClaim) throws(AuthenticationRefusal)
        -> ClientIdentity
    {
        if let method = connect.properties.authenticationMethod, method != Self.sasAuthenticationMethod {
            throw AuthenticationRefusal(
                reason: WardenError(.authInvalidCredential, "Authentication Method '\(method)' is not supported."),
                isCredentialFailure: true, isUnsupportedMethod: true)
        }
        if let access = services.listener.anonymous, connect.username == nil, claim.credentials.sasToken == nil {
            return .anonymous(services.listener.anonymousTenant, access)
        }
        switch try claim.authenticate(with: services.authenticator, clientID: connect.clientID) {
        case .device(let device): return .device(device)
        case .service(let service): return .service(service)
        }
    }

    /// What a CONNECT or AUTH claims, with this connection's certificate, address and time.
    private func readClaim(username: String?, clientID: String, token: [UInt8]?) -> ConnectClaim {
        let certificate = presented.leaf.map { DeviceCredentials.Certificate(leaf: $0, chain: presented.validation) }
        return ConnectClaim(
            username: username, clientID: clientID, token: token, certificate: certificate, peerAddress: peerAddress,
            now: services.unixNow)
    }

    private func makeWill(_ will: ConnectPacket.Will, identity: ClientIdentity, clientID: String) -> Broker.Will {
        let message = BrokerMessage(
            topic: will.topic, payload: ByteBuffer(bytes: will.payload), qos: will.qos, retain: will.retain,
            properties: will.properties, receivedAt: .now(),
            publisher: identity.sessionKey(clientID: clientID))
        return Broker.Will(
            message: message, tenantID: identity.tenantID, delay: will.properties.willDelayInterval ?? 0,
            sender: identity.deviceIdentity?.sender)
    }

    private func refuse(_ refusal: ConnectRefusal, _ connect: ConnectPacket, context: ChannelHandlerContext) {
        machine.refused()
        write(
            [.connack(refusal.connack(connect.protocolVersion))], version: connect.protocolVersion,
            maximumPacketSize: connect.properties.maximumPacketSize.map(Int.init) ?? .max, context: context)
        end(context)
    }

    /// What the policy's conditions see of the connection once TLS is done and CONNECT arrives: its TLS
    /// version, its client certificate, the moment it is accepted.
    private func seeConnection(_ context: ChannelHandlerContext) {
        if usesTLS {
            // The listeners accept nothing older than 1.2; another answer is one the policy does not know.
            policyContext.tlsVersion =
                (try? context.pipeline.syncOperations.handler(type: TLSServerHandler.self))?
                .negotiatedVersion
        } else {
            policyContext.tlsVersion = "none"
        }
        policyContext.certificate = presented.leaf.flatMap(PresentedCertificate.init(der:))
        policyContext.connectedAt = services.clock.now()
    }

    /// The decision for an action of this connection's identity; `payloadSize` and `messageRate` for a
    /// PUBLISH.
    func authorize(
        _ identity: ClientIdentity, _ resource: AuthorizationRequest.Resource, payloadSize: Int? = nil,
        messageRate: Double? = nil
    ) -> Decision {
        guard let request = identity.request(resource.action, resource) else {
            if identity.registration != nil { return ClientIdentity.decideRegistration(resource) }
            guard case .anonymous(_, let access) = identity else { return .deny(["no policy decides this client"]) }
            return access.decide(resource)
        }
        var seen = policyContext
        seen.payloadSize = payloadSize
        seen.messageRate = messageRate
        return services.authorizer.decide(request.seen(in: seen))
    }

    /// The decision on a PUBLISH to `topic`. An allow that stands (`Authorizer.decisionsStand`) is kept for the
    /// topic until the authorizer's generation moves: a device sends to one topic thousands of times, and
    /// deciding each afresh was a sixth of the hub's time under durable telemetry. Refusals are decided (and
    /// recorded) every time.
    func authorizePublish(_ identity: ClientIdentity, _ topic: String, payloadSize: Int, messageRate: Double)
        -> Decision
    {
        // An anonymous or provisioning client's listener decides at once: nothing to keep.
        guard identity.request(.publish, nil) != nil else {
            return authorize(identity, .topic(topic), payloadSize: payloadSize, messageRate: messageRate)
        }
        let authorizer = services.authorizer
        // Read before deciding: a change made meanwhile moves it past what is kept.
        let generation = authorizer.generation
        if publishAllows.decision(topic, generation: generation) == true { return .allow() }
        let decision = authorize(identity, .topic(topic), payloadSize: payloadSize, messageRate: messageRate)
        guard decision.isAllowed else { return decision }
        // Asked once a generation: a tenant whose decisions do not stand pays nothing more per PUBLISH.
        if publishAllowsStand?.generation != generation {
            publishAllowsStand = (generation, authorizer.decisionsStand(in: identity.tenantID))
        }
        if publishAllowsStand?.stand == true { publishAllows.remember(topic, true, generation: generation) }
        return decision
    }

    /// The decision on whether an authenticated identity may connect (anonymous clients of a development
    /// listener always may).
    private func authorizeConnect(_ identity: ClientIdentity) -> Decision {
        guard let request = identity.request(.connect, nil) else { return .allow() }
        return services.authorizer.decide(request.seen(in: policyContext))
    }

    /// Tells the bus (and so the audit log) that `decision` refused the action on `resource`.
    func recordDenial(_ decision: Decision, _ resource: AuthorizationRequest.Resource) {
        guard let connection else { return }
        recordDenial(
            decision, action: resource.action, target: resource.text, of: connection.identity,
            clientID: connection.session.key.clientID)
    }

    /// Tells the bus that `decision` refused `action` on `target` (a topic, filter or ClientId) to `identity`.
    private func recordDenial(
        _ decision: Decision, action: PolicyAction, target: String, of identity: ClientIdentity, clientID: String
    ) {
        services.events.publish(
            .authorizationDenied(
                identity.denial(
                    decision, action: action, target: target, clientID: clientID, context: policyContext,
                    at: services.clock.now())))
    }

    /// 5.0 AUTH 0x19: a fresh SAS token extends the connection past the old token's expiry.
    func handleReauthentication(_ auth: ReasonPacket, context: ChannelHandlerContext) {
        guard var connection, case .device(let current) = connection.identity,
            let token = auth.properties.authenticationData
        else {
            perform(machine.fail(.notAuthorized, "Only SAS-authenticated devices re-authenticate."), context: context)
            return
        }
        let claim = readClaim(username: connection.username, clientID: current.deviceID.rawValue, token: token)
        guard
            case .device(let renewed) = try? claim.authenticate(
                with: services.authenticator, clientID: current.deviceID.rawValue),
            renewed.tenantID == current.tenantID, renewed.deviceID == current.deviceID
        else {
            perform(machine.fail(.notAuthorized, "Re-authentication failed."), context: context)
            return
        }
        // Fresh credentials are a fresh CONNECT as far as the policy is concerned: it may say no since.
        let decision = authorizeConnect(.device(renewed))
        guard decision.isAllowed else {
            recordDenial(
                decision, action: .connect, target: current.deviceID.rawValue, of: .device(renewed),
                clientID: connection.session.key.clientID)
            perform(
                machine.fail(.notAuthorized, "Not authorized (reference \(decision.referenceID))."), context: context)
            return
        }
        connection.identity = .device(renewed)
        self.connection = connection
        // Decided again for the renewed identity, as after a CONNECT.
        publishAllows.forget()
        publishAllowsStand = nil
        let now = context.eventLoop.now
        machine.reauthenticated(
            credentialDeadline: renewed.expiry.map {
                ConnectNegotiation.credentialDeadline(expiry: $0, unixNow: services.unixNow, now: now)
            })
        var properties = Properties()
        properties.authenticationMethod = auth.properties.authenticationMethod
        send([.auth(ReasonPacket(reasonCode: .success, properties: properties))])
        scheduleTick(context)
    }
}

extension Decision {
    /// Log metadata: the reference id and every unmet condition.
    var metadata: Logger.Metadata {
        ["decision.ref": "\(referenceID)", "decision.unmet": "\(unmetConditions.joined(separator: "; "))"]
    }
}
