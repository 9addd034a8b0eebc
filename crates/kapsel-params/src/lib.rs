//! Kanister's template parameters (`.Object`, `.StatefulSet`, `.Profile`,
//! `.Phases.<name>.Output`, ...) as typed template values, and the rendering of a
//! Blueprint action's phases exactly as Kanister's controller renders them.
//!
//! Depends on kapsel-api, kapsel-govalue and kapsel-template; never on the
//! validator, the engine or any platform.

pub mod build;
pub mod file;
pub mod profile;
pub mod render;
pub mod secrets;
pub mod types;

pub use build::{ParamsError, PhaseState, template_params};
pub use file::RenderParams;
pub use render::{RenderError, RenderedAction, RenderedPhase, Renderer, render_action};
pub use secrets::Redactor;

use kapsel_govalue::Type;

/// The Go type of Kanister's `param.TemplateParams` (a `Type::Struct` tree),
/// for checking field references statically.
pub fn template_params_type() -> Type {
    Type::Struct(types::TYPES.template_params.clone())
}
