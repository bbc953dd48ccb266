#include "health/http/internal/utf8.h"

#include <cstdint>
#include <memory>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/logging.h"

namespace vigil {
namespace http {
namespace internal {

size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = byte(i);
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t cp = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool IsValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string SanitizeUtf8(absl::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out.append(kReplacementCharacter.data(), kReplacementCharacter.size());
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  return out;
}

namespace {

int SanitizeFieldsByReflection(google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  int changed = 0;
  std::string scratch;
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        // Map fields are repeated entry messages here: keys and values are
        // mended like any other string field.
        const int n = reflection->FieldSize(*message, f);
        for (int i = 0; i < n; ++i) {
          changed += SanitizeFieldsByReflection(
              reflection->MutableRepeatedMessage(message, f, i));
        }
      } else {
        changed +=
            SanitizeFieldsByReflection(reflection->MutableMessage(message, f));
      }
      continue;
    }
    if (f->type() != FieldDescriptor::TYPE_STRING) continue;
    if (f->is_repeated()) {
      const int n = reflection->FieldSize(*message, f);
      for (int i = 0; i < n; ++i) {
        const std::string& v =
            reflection->GetRepeatedStringReference(*message, f, i, &scratch);
        if (IsValidUtf8(v)) continue;
        reflection->SetRepeatedString(message, f, i, SanitizeUtf8(v));
        ++changed;
      }
    } else {
      const std::string& v =
          reflection->GetStringReference(*message, f, &scratch);
      if (IsValidUtf8(v)) continue;
      reflection->SetString(message, f, SanitizeUtf8(v));
      ++changed;
    }
  }
  return changed;
}

}  // namespace

int SanitizeUtf8Fields(google::protobuf::Message* message) {
  // Almost every message is valid: proto3's generated parser verifies the
  // UTF-8 of every string field (map keys and values included), so a
  // serialize-and-parse round trip tells, without the reflection walk. The
  // walk also syncs map fields through MapFieldBase, which segfaults in
  // ThreadSanitizer builds linked to Debian's uninstrumented libprotobuf
  // (SyncRepeatedFieldWithMapNoLock); a valid message never takes it.
  //
  // On an invalid message both halves log a protobuf ERROR line ("String
  // field ... contains invalid UTF-8 data"), two lines per render of one bad
  // check message, which this function exists to repair: the silencer drops
  // them. It is process-wide while alive, so a non-fatal protobuf log from
  // another thread in the same few microseconds is dropped too.
  {
    google::protobuf::LogSilencer quiet;
    std::string wire;
    if (message->SerializeToString(&wire)) {
      std::unique_ptr<google::protobuf::Message> copy(message->New());
      if (copy->ParseFromString(wire)) return 0;
    }
  }
  return SanitizeFieldsByReflection(message);
}

}  // namespace internal
}  // namespace http
}  // namespace vigil
