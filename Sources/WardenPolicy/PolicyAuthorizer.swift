public import WardenCore

/// The broker's `Authorizer`, deciding with the policy engine: the shipped default statements today, a
/// tenant's document beside them once policies can be stored (issue 14).
public struct PolicyAuthorizer: Authorizer {
    let engine: PolicyEngine

    public init(_ engine: PolicyEngine = PolicyEngine()) {
        self.engine = engine
    }

    public func decide(_ request: AuthorizationRequest) -> Decision {
        let kind: PolicyRequestor.Kind =
            switch request.subject {
            case .device(let deviceID): .device(.init(id: deviceID))
            case .service(let policyName, let permissions): .service(policyName, permissions: permissions)
            }
        let decision = engine.decide(
            PolicyRequestor(tenantID: request.tenantID, kind: kind), request.action, request.resource,
            in: PolicyContext())
        return decision.isAllowed ? .allow() : .deny(decision.reasons)
    }
}
