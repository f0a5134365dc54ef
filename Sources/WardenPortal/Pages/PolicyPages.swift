import Foundation
import Hummingbird
import WardenAPI
import WardenCore
import WardenHub
import WardenPolicy
import WardenRegistry

extension Pages {
    struct PolicyStatementRow {
        let id: String
        let effect: String
        let actions: String
        let resources: String
        let source: String
    }

    struct PolicyVersionRow {
        let number: Int
        let author: String
        let created: String
        let restoredFrom: Int?
        let auditOnly: Bool
        let previous: Int?
    }

    struct DiffRow {
        let sign: String
        let kind: String
        let text: String
    }

    struct ShownDocument {
        let title: String
        let text: String?
        let diff: [DiffRow]
        /// Stored, not computed: templates read stored properties.
        let hasDiff: Bool

        init(title: String, text: String?, diff: [DiffRow]) {
            self.title = title
            self.text = text
            self.diff = diff
            hasDiff = !diff.isEmpty
        }
    }

    struct ActionChoice {
        let name: String
        let selected: Bool
    }

    struct TrialAnswer {
        let decision: String
        let allowed: Bool
        let statement: String
        let reasons: [String]
        let considered: [PolicyStatementOutcome]
        let tried: String?
    }

    struct PolicyStatementOutcome {
        let statement: String
        let effect: String
        let outcome: String
        let why: String
    }

    struct PolicyPage {
        let tenant: String
        let csrf: String
        let canManage: Bool
        let version: Int
        let tolerance: String
        let triedVersion: Int?
        let unreadable: String?
        let newest: Int
        let document: String
        let error: String?
        let statements: [PolicyStatementRow]
        let versions: [PolicyVersionRow]
        let shown: ShownDocument?
        let device: String
        let topic: String
        let address: String
        let time: String
        let actions: [ActionChoice]
        let answer: TrialAnswer?
        let answerError: String?
    }

    /// A document to start from while the tenant has none: the shipped statements alone are in force.
    static let starterDocument = """
        {
          "tolerance": "balanced",
          "statements": []
        }
        """

    var policyRoutes: [PortalRoute] {
        [
            PortalRoute(.get, "/t/{tenant}/policy", "policy", permission: .policiesRead) { request, portal in
                try await policyPage(request, portal, draft: nil, error: nil)
            },
            PortalRoute(
                .post, "/t/{tenant}/policy", "writePolicy", permission: .policiesManage,
                // Percent-encoding can treble a document's size.
                formLimit: 3 * PolicyDocument.maximumBytes
            ) { request, portal in
                let tenant = try portal.requireTenant()
                let document = portal.form["document"] ?? ""
                do {
                    let written = try await dependencies.registry.writeAuthorizationPolicy(
                        tenant, document: Array(document.utf8),
                        author: "\(portal.principal.kind.rawValue):\(portal.principal.name)",
                        ifMatch: portal.field("version"))
                    portal.context.auditDetail("policy.version", "\(written.version.number)")
                    return .redirect("/t/\(tenant.rawValue)/policy")
                } catch let error as WardenError
                    where error.code == .policyInvalidDocument || error.code == .policyVersionMismatch
                {
                    // The editor comes back with what was typed and why it was refused; nothing was stored.
                    portal.context.audit.set { $0.code = error.code.name }
                    return try await policyPage(request, portal, draft: document, error: error.reason)
                }
            },
            PortalRoute(.post, "/t/{tenant}/policy/rollback", "rollBackPolicy", permission: .policiesManage) {
                _, portal in
                let tenant = try portal.requireTenant()
                // total: parses text: nil unless a number.
                guard let number = Int(portal.field("version")) else {
                    throw WardenError(.policyVersionNotFound, "Choose a version to restore.")
                }
                let restored = try await dependencies.registry.rollBackAuthorizationPolicy(
                    tenant, to: number, author: "\(portal.principal.kind.rawValue):\(portal.principal.name)")
                portal.context.auditDetail("policy.version", "\(restored.number)")
                return .redirect("/t/\(tenant.rawValue)/policy")
            },
        ]
    }

    private func policyPage(
        _ request: Request, _ portal: PortalRequest, draft: String?, error: String?
    ) async throws -> Response {
        let tenant = try portal.requireTenant()
        let registry = dependencies.registry
        let query = request.uri.queryParameters
        func text(_ name: String) -> String { query.get(name).map { String($0) } ?? "" }
        let policy = dependencies.policyFacts.policy(tenant, device: nil).0
        let newest = try await registry.authorizationPolicy(tenant)
        let summaries = try await registry.authorizationPolicyVersions(tenant)
        let versions = summaries.enumerated().map { index, summary in
            PolicyVersionRow(
                number: summary.number, author: summary.author, created: Self.time(summary.createdAt),
                restoredFrom: summary.restoredFrom, auditOnly: summary.isAuditOnly,
                previous: index + 1 < summaries.count ? summaries[index + 1].number : nil)
        }
        var shown: ShownDocument?
        // total: parses text: nil unless a number.
        if let number = Int(text("version")) {
            let version = try await registry.authorizationPolicyVersion(tenant, number)
            shown = ShownDocument(title: "Version \(number)", text: version.document, diff: [])
        } else if let number = Int(text("diff")), let from = Int(text("from")) {  // total: parses text.
            let old = try await registry.authorizationPolicyVersion(tenant, from)
            let new = try await registry.authorizationPolicyVersion(tenant, number)
            shown = ShownDocument(
                title: "Version \(from) → \(number)", text: nil,
                diff: LineDiff.lines(from: old.document, to: new.document).map { line in
                    switch line {
                    case .same(let text): DiffRow(sign: " ", kind: "same", text: text)
                    case .removed(let text): DiffRow(sign: "-", kind: "removed", text: text)
                    case .added(let text): DiffRow(sign: "+", kind: "added", text: text)
                    }
                })
        }
        let action = text("action")
        var answer: TrialAnswer?
        var answerError: String?
        if !action.isEmpty {
            do {
                let question = PolicySimulation.Question(
                    device: try DeviceID(text("device")), action: action,
                    topic: text("topic").isEmpty ? nil : text("topic"),
                    sourceAddress: text("address").isEmpty ? nil : text("address"),
                    time: text("time").isEmpty ? nil : text("time"))
                let simulation = try await PolicySimulation(
                    registry: registry, facts: dependencies.policyFacts, twins: dependencies.hub.twins,
                    clock: dependencies.clock
                ).answer(question, in: tenant)
                answer = TrialAnswer(
                    decision: simulation.decision, allowed: simulation.decision == "allow",
                    statement: simulation.statement ?? "no statement applied", reasons: simulation.reasons,
                    considered: simulation.considered.map {
                        PolicyStatementOutcome(
                            statement: $0.statement, effect: $0.effect, outcome: $0.outcome,
                            why: $0.reasons.joined(separator: "; "))
                    },
                    tried: simulation.tried.map {
                        "\($0.decision) by \($0.statement ?? "no statement") (version \($0.policyVersion), audit-only)"
                    })
            } catch let error as WardenError {
                answerError = error.reason
            }
        }
        let page = PolicyPage(
            tenant: tenant.rawValue, csrf: portal.session.csrf,
            canManage: portal.principal.may(.policiesManage, in: tenant), version: policy.enforced.version,
            tolerance: policy.enforced.tolerance.rawValue, triedVersion: policy.trial?.version,
            unreadable: policy.enforced.unreadable, newest: newest?.number ?? 0,
            document: draft ?? newest?.document ?? Self.starterDocument, error: error,
            statements: policy.enforced.engine.statements.map { statement in
                PolicyStatementRow(
                    id: statement.id, effect: statement.effect.rawValue,
                    actions: statement.actions.map(\.rawValue).sorted().joined(separator: ", "),
                    resources: statement.resources.isEmpty
                        ? "every topic" : statement.resources.map(\.description).joined(separator: " "),
                    source: statement.id.hasPrefix("default.") ? "shipped" : "document")
            },
            versions: versions, shown: shown, device: text("device"), topic: text("topic"), address: text("address"),
            time: text("time"),
            actions: PolicyAction.allCases.map { ActionChoice(name: $0.rawValue, selected: $0.rawValue == action) },
            answer: answer, answerError: answerError)
        return self.page(
            "policy", page, title: "Policy", request, portal, status: error == nil ? .ok : .badRequest)
    }
}
