import Foundation
import Hummingbird
import WardenCore
import WardenProvisioning

/// `/api/v1/tenants/{tenant}/provisioning`: the tenant's ID scope, its enrollment groups and individual
/// enrollments (docs/provisioning.md).
struct ProvisioningController {
    let provisioning: ProvisioningService
    let endpoint: String
    static let base = "/api/v1/tenants/{tenant}/provisioning"

    /// Groups and individual enrollments share their routes' shapes: a collection and a member.
    private struct Collection {
        let path: String
        let parameter: String
        let noun: String
        let kind: @Sendable (String) throws -> Enrollment.Kind
    }

    private static let groups = Collection(
        path: base + "/groups", parameter: "group", noun: "EnrollmentGroup",
        kind: { .group(try EnrollmentGroupName($0)) })
    private static let individuals = Collection(
        path: base + "/enrollments", parameter: "registration", noun: "IndividualEnrollment",
        kind: { .individual(try DeviceID($0)) })

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "getProvisioning", "The tenant's ID scope and provisioning endpoint",
                permission: .registryRead, success: (200, "Provisioning")
            ) { request, context in
                let scope = try await provisioning.idScope(try request.tenantID(context))
                return try JSONResponse.make(ProvisioningResource(idScope: scope, endpoint: endpoint))
            }
        ] + routes(Self.groups) + routes(Self.individuals)
    }

    private func routes(_ collection: Collection) -> [APIRoute] {
        let member = collection.path + "/{\(collection.parameter)}"
        @Sendable func kind(_ request: Request, _ context: APIRequestContext) throws -> Enrollment.Kind {
            try collection.kind(try request.parameter(collection.parameter, context))
        }
        return [
            APIRoute(
                .get, collection.path, "list\(collection.noun)s", "List the tenant's \(collection.noun)s",
                permission: .registryRead, success: (200, "EnrollmentList")
            ) { request, context in
                let all = try await provisioning.enrollments(try request.tenantID(context))
                let items = all.filter { (try? collection.kind(Self.name($0.kind))) == $0.kind }
                return try JSONResponse.make(
                    ListResource(items: items.map { EnrollmentResource($0, includeKeys: false) }, nextCursor: nil))
            },
            APIRoute(
                .post, collection.path, "create\(collection.noun)",
                "Create a symmetric-key or X.509 \(collection.noun)",
                permission: .credentialsManage, request: "CreateEnrollment", success: (201, "Enrollment")
            ) { request, context in
                let body = try await request.decodeJSON(CreateEnrollmentRequest.self, context)
                let name = collection.parameter == "group" ? body.name : body.registrationId
                guard let name else {
                    throw WardenError(
                        .requestInvalidField,
                        "Field '\(collection.parameter == "group" ? "name" : "registrationId")' is required.")
                }
                let tenantID = try request.tenantID(context)
                let assignment = try body.assignment
                try assignment.requireWrite(by: try context.requirePrincipal(), from: tenantID)
                let created = try await provisioning.createEnrollment(
                    tenantID, try collection.kind(name), attestation: try body.attestationChoice(),
                    deviceID: body.deviceId, initialDesired: body.initialTwin?.desired, enabled: try body.isEnabled,
                    assignment: assignment)
                context.auditDetail("after", created.kind.reference)
                return try JSONResponse.make(EnrollmentResource(created, includeKeys: true), status: .created)
            },
            APIRoute(
                .get, member, "get\(collection.noun)", "One \(collection.noun), with its keys",
                permission: .credentialsManage, success: (200, "Enrollment")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let enrollment = try await provisioning.enrollment(tenantID, try kind(request, context))
                // Its keys provision devices into each of its tenants.
                try enrollment.assignment.requireWrite(by: try context.requirePrincipal(), from: tenantID)
                return try JSONResponse.make(EnrollmentResource(enrollment, includeKeys: true))
            },
            APIRoute(
                .patch, member, "update\(collection.noun)",
                "Enable or disable a \(collection.noun), or change its initial twin, tenants, allocation or reprovisioning",
                permission: .credentialsManage, request: "UpdateEnrollment", success: (200, "Enrollment")
            ) { request, context in
                let body = try await request.decodeJSON(UpdateEnrollmentRequest.self, context)
                let (tenantID, kind) = (try request.tenantID(context), try kind(request, context))
                // Any change reaches the tenants it names now and those it will name.
                let principal = try context.requirePrincipal()
                let current = try await provisioning.enrollment(tenantID, kind)
                try current.assignment.requireWrite(by: principal, from: tenantID)
                var assignment: EnrollmentAssignment?
                if !body.assignmentFields.isEmpty {
                    let merged = try body.assignmentFields.merged(into: current.assignment)
                    try merged.requireWrite(by: principal, from: tenantID)
                    assignment = merged
                }
                let changed = try await provisioning.updateEnrollment(
                    tenantID, kind, enabled: try body.isEnabled, initialDesired: body.initialTwin?.desired,
                    assignment: assignment)
                context.auditDetail(
                    "after",
                    "\(changed.kind.reference) \(changed.isEnabled ? "enabled" : "disabled") "
                        + "\(changed.allocation.name) \(changed.assignableTenants.map(\.rawValue).joined(separator: ","))"
                )
                return try JSONResponse.make(EnrollmentResource(changed, includeKeys: false))
            },
            APIRoute(
                .delete, member, "delete\(collection.noun)", "Delete a \(collection.noun)",
                permission: .credentialsManage, success: (204, nil)
            ) { request, context in
                try await provisioning.deleteEnrollment(try request.tenantID(context), try kind(request, context))
                return JSONResponse.noContent()
            },
        ]
    }

    private static func name(_ kind: Enrollment.Kind) -> String {
        switch kind {
        case .group(let name): name.rawValue
        case .individual(let id): id.rawValue
        }
    }
}
