/// A device's twin (anchors.md §1.3): desired properties (set by the cloud) and reported properties (set by
/// the device), each a JSON object with its own version, and when each top-level property last changed.
public struct DeviceTwin: Sendable, Equatable {
    /// One side of the twin.
    public struct Section: Sendable, Equatable {
        public var properties: [String: JSONValue] = [:]
        /// 0 until the first change; each change adds one.
        public var version = 0
        /// Unix milliseconds of the last change of each top-level property, and of the section.
        public var lastUpdated: [String: Int64] = [:]
        public var sectionUpdated: Int64 = 0

        public init() {}

        /// Applies a JSON merge patch (`null` deletes a member, objects merge, anything else replaces) and
        /// counts a version.
        public mutating func apply(_ patch: [String: JSONValue], at now: Int64) {
            for (key, value) in patch {
                properties[key] = Self.merge(properties[key], value)
                if properties[key] == nil { lastUpdated[key] = nil } else { lastUpdated[key] = now }
            }
            version &+= 1  // loaded from the store: a foreign file's Int.max must not trap
            sectionUpdated = now
        }

        private static func merge(_ current: JSONValue?, _ patch: JSONValue) -> JSONValue? {
            switch patch {
            case .null: return nil
            case .object(let members):
                var merged: [String: JSONValue]
                if case .object(let existing) = current { merged = existing } else { merged = [:] }
                for (key, value) in members { merged[key] = merge(merged[key], value) }
                return .object(merged)
            default: return patch
            }
        }
    }

    public let tenantID: TenantID
    public let deviceID: DeviceID
    public var desired = Section()
    public var reported = Section()

    public init(tenantID: TenantID, deviceID: DeviceID) {
        self.tenantID = tenantID
        self.deviceID = deviceID
    }
}
