// The text of every talc::Errc, and its std::error_category.
#include "talc/core/errors.hpp"

#include <string>

namespace talc {

// A switch per column of the table: two rows of one value would be two equal cases, which do not
// compile.
#define TALC_ERRC_TEXT_CASE(name, NAME, value, text) \
  case Errc::name:                                   \
    return text;
#define TALC_ERRC_NAME_CASE(name, NAME, value, text) \
  case Errc::name:                                   \
    return #name;

const char* describe(Errc e) noexcept {
  switch (e) { TALC_ERRORS(TALC_ERRC_TEXT_CASE) }
  return "unknown talc error";
}

const char* name_of(Errc e) noexcept {
  switch (e) { TALC_ERRORS(TALC_ERRC_NAME_CASE) }
  return "unknown";
}

#undef TALC_ERRC_TEXT_CASE
#undef TALC_ERRC_NAME_CASE

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "talc"; }
  std::string message(int ev) const override { return describe(static_cast<Errc>(ev)); }
};
}  // namespace

const std::error_category& talc_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace talc
