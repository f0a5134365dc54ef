/// A tenant's allow and block lists of devices and groups.
///
/// A block entry always wins. When the allow lists are both empty every device is allowed; otherwise a
/// device must be named or be in a named group.
public struct AccessList: Sendable, Hashable {
    /// Devices and groups on one side of the list.
    public struct Entries: Sendable, Hashable, Codable {
        /// Devices named directly.
        public var devices: Set<DeviceID>
        /// Groups whose members are named.
        public var groups: Set<GroupName>

        /// Makes a side of the list.
        public init(devices: Set<DeviceID> = [], groups: Set<GroupName> = []) {
            self.devices = devices
            self.groups = groups
        }

        /// Whether neither devices nor groups are listed.
        public var isEmpty: Bool { devices.isEmpty && groups.isEmpty }

        func matches(_ device: DeviceID, groups memberOf: Set<GroupName>) -> Bool {
            devices.contains(device) || !groups.isDisjoint(with: memberOf)
        }
    }

    /// What the list decided for a device.
    public enum Verdict: Sendable, Hashable {
        case allowed
        /// Named on the block list, directly or through a group.
        case blocked
        /// An allow list exists and does not name the device.
        case notAllowed
    }

    /// The allow side.
    public var allow: Entries
    /// The block side.
    public var block: Entries
    /// Changes on every update, for If-Match.
    public var etag: String

    /// Makes a list.
    public init(allow: Entries, block: Entries, etag: String) {
        self.allow = allow
        self.block = block
        self.etag = etag
    }

    /// Block wins; then, if there is an allow list, the device must be on it.
    public func evaluate(_ device: DeviceID, groups: Set<GroupName>) -> Verdict {
        if block.matches(device, groups: groups) { return .blocked }
        if allow.isEmpty || allow.matches(device, groups: groups) { return .allowed }
        return .notAllowed
    }
}
