import Testing
import WardenAzure

/// Azure's MQTT property bags, against what the SDKs write.
struct PropertyBagTests {
    /// Written by azure-iot-device 2.14.0's `encode_message_properties_in_topic` for a Message with message id
    /// "id 1", content type application/json, encoding utf-8 and custom properties
    /// {"temp alert": "a+b&c=d", "ünï": "ç", "empty": ""}.
    static let pythonSDK =
        "%24.mid=id%201&%24.ct=application%2Fjson&%24.ce=utf-8&empty=&temp%20alert=a%2Bb%26c%3Dd"
        + "&%C3%BCn%C3%AF=%C3%A7"

    @Test func parsesWhatThePythonSDKWrites() throws {
        let bag = try PropertyBag(parsing: Self.pythonSDK[...])
        #expect(bag["$.mid"] == "id 1")
        #expect(bag["$.ct"] == "application/json")
        #expect(bag["$.ce"] == "utf-8")
        #expect(bag["empty"] == "")
        #expect(bag["temp alert"] == "a+b&c=d")
        #expect(bag["ünï"] == "ç")
        #expect(bag.properties.filter(\.isSystem).count == 3)
    }

    @Test func nullEmptyAndPlainValuesAreTold() throws {
        let bag = try PropertyBag(parsing: "flag&blank=&k=v"[...])
        #expect(bag.properties == [.init("flag", nil), .init("blank", ""), .init("k", "v")])
        #expect(bag.text == "flag&blank=&k=v")
    }

    @Test func plusIsAPlusSign() throws {
        #expect(try PropertyBag(parsing: "a=1+1"[...])["a"] == "1+1")
    }

    @Test func emptyTextIsAnEmptyBag() throws {
        #expect(try PropertyBag(parsing: ""[...]).properties.isEmpty)
    }

    @Test(arguments: [
        ("a=%4", PropertyBag.ParseError.badEscape(position: 2)), ("a=%zz", .badEscape(position: 2)),
        ("=v", .emptyName(position: 0)), ("a=1&&b=2", .emptyName(position: 4)), ("a=%FF", .badEscape(position: 2)),
    ])
    func malformedBagsAreRefused(text: String, error: PropertyBag.ParseError) {
        #expect(throws: error) { try PropertyBag(parsing: text[...]) }
    }

    @Test func roundTripsAnyText() throws {
        let bag = PropertyBag([.init("$.mid", "ü &=+%/"), .init("n", nil), .init("e", "")])
        #expect(try PropertyBag(parsing: bag.text[...]) == bag)
    }
}
