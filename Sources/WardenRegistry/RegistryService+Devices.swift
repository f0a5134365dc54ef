import Foundation
public import WardenCore
import WardenSecurity
import WardenStore

extension RegistryService {
    /// What a caller asks for when creating a device.
    public struct NewDevice: Sendable {
        public var id: DeviceID
        public var authenticationType: Device.AuthenticationType
        public var primaryThumbprint: Thumbprint?
        public var secondaryThumbprint: Thumbprint?
        public var status: Device.Status
        public var statusReason: String?
        public var attributes: [String: String]
        /// A SAS device's keys when they are given (a provisioned device's, derived from its enrollment);
        /// fresh random ones otherwise.
        public var keys: SASKeyPair?

        /// Defaults: SAS authentication, enabled, no attributes.
        public init(
            id: DeviceID, authenticationType: Device.AuthenticationType = .sas, primaryThumbprint: Thumbprint? = nil,
            secondaryThumbprint: Thumbprint? = nil, status: Device.Status = .enabled, statusReason: String? = nil,
            attributes: [String: String] = [:], keys: SASKeyPair? = nil
        ) {
            self.keys = keys
            self.id = id
            self.authenticationType = authenticationType
            self.primaryThumbprint = primaryThumbprint
            self.secondaryThumbprint = secondaryThumbprint
            self.status = status
            self.statusReason = statusReason
            self.attributes = attributes
        }
    }

    /// A partial update; nil fields stay as they are.
    public struct DevicePatch: Sendable {
        public var status: Device.Status?
        public var statusReason: String??
        public var attributes: [String: String]?
        public var primaryThumbprint: Thumbprint?
        public var secondaryThumbprint: Thumbprint??

        /// An empty patch.
        public init(
            status: Device.Status? = nil, statusReason: String?? = nil, attributes: [String: String]? = nil,
            primaryThumbprint: Thumbprint? = nil, secondaryThumbprint: Thumbprint?? = nil
        ) {
            self.status = status
            self.statusReason = statusReason
            self.attributes = attributes
            self.primaryThumbprint = primaryThumbprint
            self.secondaryThumbprint = secondaryThumbprint
        }
    }

    /// Which key `rotateKeys` changes.
    public enum KeyRotation: String, Sendable, CaseIterable, Codable {
        /// A fresh primary key.
        case primary
        /// A fresh secondary key.
        case secondary
        /// Primary and secondary trade places.
        case swap
    }

    /// Most attributes a device may carry, and their sizes.
    public static let maximumAttributes = 64
    static let maximumAttributeKeyLength = 128
    static let maximumAttributeValueLength = 512

    /// Registers a device; SAS devices get two fresh 256-bit keys from the OS CSPRNG.
    public func createDevice(_ tenantID: TenantID, _ new: NewDevice) async throws -> Device {
        try Self.validate(statusReason: new.statusReason)
        try Self.validate(attributes: new.attributes)
        let authentication: Device.Authentication
        switch new.authenticationType {
        case .sas:
            guard new.primaryThumbprint == nil, new.secondaryThumbprint == nil else {
                throw WardenError(.deviceInvalidAuthentication, "Thumbprints apply only to 'x509-thumbprint' devices.")
            }
            authentication = .sas(new.keys ?? .random())
        case .x509Thumbprint:
            guard let primary = new.primaryThumbprint else {
                throw WardenError(
                    .deviceInvalidAuthentication, "An 'x509-thumbprint' device needs a primary thumbprint.")
            }
            authentication = .x509Thumbprint(primary: primary, secondary: new.secondaryThumbprint)
        case .x509CA:
            guard new.primaryThumbprint == nil, new.secondaryThumbprint == nil else {
                throw WardenError(.deviceInvalidAuthentication, "Thumbprints apply only to 'x509-thumbprint' devices.")
            }
            authentication = .x509CA
        }
        let now = clock.now()
        let device = Device(
            tenantID: tenantID, id: new.id, generationID: UUID().uuidString.lowercased(), etag: Self.makeETag(),
            status: new.status, statusReason: new.statusReason, statusUpdatedAt: now, authentication: authentication,
            attributes: new.attributes, createdAt: now, updatedAt: now)
        return try await commit {
            let created = try await stores.devices.createDevice(device)
            return (created, [.deviceCreated(created)])
        }
    }

    /// One device; `device.not_found` if absent.
    public func device(_ tenantID: TenantID, _ id: DeviceID) async throws -> Device {
        guard let device = try await stores.devices.device(tenantID, id) else {
            _ = try await tenant(tenantID)
            throw WardenError(.deviceNotFound, "There is no device '\(id)' in tenant '\(tenantID)'.")
        }
        return device
    }

    /// How many devices each tenant has.
    public func deviceCounts() async throws -> [TenantID: Int] {
        try await stores.devices.deviceCounts()
    }

    /// A page of a tenant's devices.
    public func devices(_ tenantID: TenantID, after cursor: String?, limit: Int) async throws -> Page<Device> {
        _ = try await tenant(tenantID)
        return try await stores.devices.devices(tenantID, after: cursor, limit: limit)
    }

    /// Applies `patch` if `ifMatch` (when given) equals the device's etag.
    public func updateDevice(_ tenantID: TenantID, _ id: DeviceID, _ patch: DevicePatch, ifMatch: String?)
        async throws -> Device
    {
        if let reason = patch.statusReason { try Self.validate(statusReason: reason) }
        if let attributes = patch.attributes { try Self.validate(attributes: attributes) }
        let now = clock.now()
        return try await change(tenantID, id, ifMatch: ifMatch) { device in
            var what = DeviceChange.attributes
            if let status = patch.status, status != device.status {
                device.status = status
                device.statusUpdatedAt = now
                what = .status
            }
            if let reason = patch.statusReason { device.statusReason = reason }
            if let attributes = patch.attributes { device.attributes = attributes }
            if patch.primaryThumbprint != nil || patch.secondaryThumbprint != nil {
                guard case .x509Thumbprint(let primary, let secondary) = device.authentication else {
                    throw WardenError(.deviceInvalidAuthentication, "Only 'x509-thumbprint' devices have thumbprints.")
                }
                device.authentication = .x509Thumbprint(
                    primary: patch.primaryThumbprint ?? primary, secondary: patch.secondaryThumbprint ?? secondary)
                what = .authentication
            }
            device.updatedAt = now
            return what
        }
    }

    /// Regenerates or swaps a SAS device's keys.
    public func rotateKeys(_ tenantID: TenantID, _ id: DeviceID, _ rotation: KeyRotation, ifMatch: String?)
        async throws -> Device
    {
        let now = clock.now()
        return try await change(tenantID, id, ifMatch: ifMatch) { device in
            guard case .sas(var keys) = device.authentication else {
                throw WardenError(.deviceNotSAS, "Device '\(id)' does not authenticate with SAS keys.")
            }
            switch rotation {
            case .primary: keys.primary = .random(count: SASKeyPair.keyLength)
            case .secondary: keys.secondary = .random(count: SASKeyPair.keyLength)
            case .swap: keys = SASKeyPair(primary: keys.secondary, secondary: keys.primary)
            }
            device.authentication = .sas(keys)
            device.updatedAt = now
            return .keysRotated
        }
    }

    /// Gives a device SAS authentication with `keys` (a device provisioning itself again with its enrollment's
    /// keys); a live connection with other credentials closes.
    public func setSASKeys(_ tenantID: TenantID, _ id: DeviceID, _ keys: SASKeyPair) async throws -> Device {
        let now = clock.now()
        return try await change(tenantID, id, ifMatch: nil) { device in
            device.authentication = .sas(keys)
            device.updatedAt = now
            return .keysRotated
        }
    }

    /// Deletes a device if `ifMatch` (when given) equals its etag.
    public func deleteDevice(_ tenantID: TenantID, _ id: DeviceID, ifMatch: String?) async throws {
        try await commit {
            let current = try await device(tenantID, id)
            try Self.check(ifMatch, against: current.etag, .deviceEtagMismatch, "device")
            try await stores.devices.deleteDevice(tenantID, id)
            return ((), [.deviceDeleted(tenantID, id)])
        }
    }

    private func change(
        _ tenantID: TenantID, _ id: DeviceID, ifMatch: String?,
        _ body: @escaping @Sendable (inout Device) throws -> DeviceChange
    ) async throws -> Device {
        let etag = Self.makeETag()
        return try await commit {
            _ = try await tenant(tenantID)
            let (device, what) = try await stores.devices.updateDevice(tenantID, id) { device in
                try Self.check(ifMatch, against: device.etag, .deviceEtagMismatch, "device")
                let what = try body(&device)
                device.etag = etag
                return what
            }
            return (device, [.deviceUpdated(device, what)])
        }
    }

    private static func validate(statusReason: String?) throws {
        guard let statusReason, statusReason.count > Device.maximumStatusReasonLength else { return }
        throw WardenError(
            .deviceInvalidStatusReason,
            "The status reason has \(statusReason.count) characters; at most \(Device.maximumStatusReasonLength).")
    }

    private static func validate(attributes: [String: String]) throws {
        guard attributes.count <= maximumAttributes else {
            throw WardenError(.deviceInvalidAttribute, "A device has at most \(maximumAttributes) attributes.")
        }
        for (key, value) in attributes {
            guard !key.isEmpty, key.count <= maximumAttributeKeyLength, value.count <= maximumAttributeValueLength
            else {
                throw WardenError(
                    .deviceInvalidAttribute,
                    "Attribute names have 1 to \(maximumAttributeKeyLength) characters and values at most "
                        + "\(maximumAttributeValueLength).")
            }
        }
    }
}
