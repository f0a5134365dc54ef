import Foundation
import Hummingbird
import WardenAPI
import WardenCore
import WardenProvisioning
import WardenRegistry

extension Pages {
    struct EnrollmentRow {
        let name: String
        /// The name as a path segment of its actions.
        let path: String
        /// `groups` or `enrollments`: the path segment of its actions.
        let collection: String
        let kind: String
        let attestation: String
        let status: String
        let tenants: String
        let allocation: String
        let reprovision: String
        let isEnabled: Bool
    }

    struct ProvisioningPage {
        let tenant: String
        let idScope: String
        let endpoint: String
        let enrollments: [EnrollmentRow]
        let authorities: [String]
        /// Whether there is a verified CA an X.509 group could name.
        let hasAuthorities: Bool
        let allocations: [String]
        let reprovisions: [String]
        let canManage: Bool
        let csrf: String
        /// The enrollment just created with its keys, shown once.
        let createdName: String?
        let createdPrimaryKey: String?
        let createdSecondaryKey: String?
    }

    var provisioningRoutes: [PortalRoute] {
        let base = "/t/{tenant}/provisioning"
        return [
            PortalRoute(.get, base, "provisioning", permission: .registryRead) { request, portal in
                try await provisioningPage(request, portal, created: nil)
            },
            PortalRoute(.post, base, "createEnrollmentInPortal", permission: .credentialsManage) { request, portal in
                let tenant = try portal.requireTenant()
                let isGroup = portal.field("kind") != "individual"
                let name = portal.field("name")
                let kind: Enrollment.Kind =
                    isGroup ? .group(try EnrollmentGroupName(name)) : .individual(try DeviceID(name))
                let authority = portal.field("ca")
                let attestation: Enrollment.Attestation? =
                    portal.field("attestation") == "x509"
                    ? .certificateAuthority(try CAName(authority.isEmpty ? "-" : authority)) : nil
                let assignment = try Self.assignment(portal)
                try assignment.requireWrite(by: portal.principal, from: tenant)
                let created = try await dependencies.provisioning.createEnrollment(
                    tenant, kind, attestation: attestation, assignment: assignment)
                portal.context.auditDetail("after", created.kind.reference)
                return try await provisioningPage(request, portal, created: created)
            },
            PortalRoute(
                .post, base + "/{collection}/{name}/status", "setEnrollmentStatusInPortal",
                permission: .credentialsManage
            ) { _, portal in
                let tenant = try portal.requireTenant()
                let enabled = portal.field("status") == "enabled"
                let kind = try Self.kind(portal)
                // Enabling it again provisions into each of its tenants.
                try await dependencies.provisioning.enrollment(tenant, kind).assignment.requireWrite(
                    by: portal.principal, from: tenant)
                let changed = try await dependencies.provisioning.setEnabled(tenant, kind, enabled)
                portal.context.auditDetail("after", "\(changed.kind.reference) \(enabled ? "enabled" : "disabled")")
                return .redirect("/t/\(tenant.rawValue)/provisioning")
            },
            PortalRoute(
                .post, base + "/{collection}/{name}/delete", "deleteEnrollmentInPortal", permission: .credentialsManage
            ) { _, portal in
                let tenant = try portal.requireTenant()
                let kind = try Self.kind(portal)
                try await dependencies.provisioning.deleteEnrollment(tenant, kind)
                portal.context.auditDetail("after", "\(kind.reference) deleted")
                return .redirect("/t/\(tenant.rawValue)/provisioning")
            },
        ]
    }

    /// The enrollment a row's action names: `groups/{name}` or `enrollments/{registration id}`.
    private static func kind(_ portal: PortalRequest) throws -> Enrollment.Kind {
        switch portal.parameter("collection") {
        case "groups": return .group(try EnrollmentGroupName(portal.parameter("name")))
        case "enrollments": return .individual(try DeviceID(portal.parameter("name")))
        default: throw WardenError(.routeNotFound, "There is no such kind of enrollment.")
        }
    }

    /// The form's tenants (comma-separated), allocation, webhook and reprovision policy.
    private static func assignment(_ portal: PortalRequest) throws -> EnrollmentAssignment {
        let tenants = try portal.field("tenants").split(separator: ",").map {
            try TenantID($0.trimmingCharacters(in: .whitespaces))
        }
        guard let reprovisioning = Enrollment.Reprovisioning(rawValue: portal.field("reprovision")) else {
            throw WardenError(.requestInvalidField, "Choose a reprovision policy.")
        }
        let allocation: Enrollment.Allocation
        switch portal.field("allocation") {
        case "static": allocation = .static
        case "hashed": allocation = .hashed
        case "custom": allocation = .custom(webhook: portal.field("webhook"))
        default: throw WardenError(.requestInvalidField, "Choose an allocation policy.")
        }
        return EnrollmentAssignment(tenants: tenants, allocation: allocation, reprovisioning: reprovisioning)
    }

    private func provisioningPage(_ request: Request, _ portal: PortalRequest, created: Enrollment?)
        async throws -> Response
    {
        let tenant = try portal.requireTenant()
        let provisioning = dependencies.provisioning
        let enrollments = try await provisioning.enrollments(tenant)
        let authorities = try await dependencies.registry.certificateAuthorities(tenant).filter(\.isVerified)
        return self.page(
            "provisioning",
            ProvisioningPage(
                tenant: tenant.rawValue, idScope: try await provisioning.idScope(tenant),
                endpoint: dependencies.gatewayHostName,
                enrollments: enrollments.map { enrollment in
                    let (name, collection, kind) =
                        switch enrollment.kind {
                        case .group(let name): (name.rawValue, "groups", "group")
                        case .individual(let id): (id.rawValue, "enrollments", "individual")
                        }
                    return EnrollmentRow(
                        name: name, path: Self.segment(name), collection: collection, kind: kind,
                        attestation: enrollment.attestation.type,
                        status: enrollment.isEnabled ? "enabled" : "disabled",
                        tenants: enrollment.assignableTenants.map(\.rawValue).joined(separator: ", "),
                        allocation: enrollment.allocation.name, reprovision: enrollment.reprovisioning.rawValue,
                        isEnabled: enrollment.isEnabled)
                },
                authorities: authorities.map(\.name.rawValue), hasAuthorities: !authorities.isEmpty,
                allocations: ["static", "hashed", "custom"],
                reprovisions: Enrollment.Reprovisioning.allCases.map(\.rawValue),
                canManage: portal.principal.may(.credentialsManage, in: tenant), csrf: portal.session.csrf,
                createdName: created.map { Self.name($0.kind) },
                createdPrimaryKey: created?.attestation.keys.map { Data($0.primary.bytes).base64EncodedString() },
                createdSecondaryKey: created?.attestation.keys.map { Data($0.secondary.bytes).base64EncodedString() }),
            title: "Provisioning", request, portal)
    }

    private static func name(_ kind: Enrollment.Kind) -> String {
        switch kind {
        case .group(let name): name.rawValue
        case .individual(let id): id.rawValue
        }
    }
}
