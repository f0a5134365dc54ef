import Hummingbird
import WardenCore

/// `/api/v1/master-key`: which master key seals the secrets at rest, and its rotation (platform administrators).
struct MasterKeyController {
    let masterKey: any MasterKeyManaging

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/master-key", "getMasterKey",
                "The master key's identifier (never the key), where it is kept, and whether a rotation runs",
                permission: .platformManage, success: (200, "MasterKey")
            ) { _, _ in
                try JSONResponse.make(masterKey.status())
            },
            APIRoute(
                .post, "/api/v1/master-key/rotate", "rotateMasterKey",
                "Seal every secret at rest again under a new master key, online; answers when the old key is gone",
                permission: .platformManage, success: (200, "MasterKeyRotation")
            ) { _, context in
                let report = try await masterKey.rotate()
                context.auditDetail("key.id", report.keyID)
                context.auditDetail("key.previous", report.previousKeyID)
                context.auditDetail("resealed", "\(report.resealed.values.reduce(0, +))")
                return try JSONResponse.make(report)
            },
        ]
    }
}
